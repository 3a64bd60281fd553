/**
 * Keys of the board's latest-value maps, without zod: the browser bundle imports these values
 * (and only types from board.ts), so the schemas never reach it.
 */

/** A stock row's key: (site, location, sku, batch, project). */
export const stockKey = (r: { site: string; location: string; sku: string; batch: string; project: string }): string =>
  `${r.site}\u0000${r.location}\u0000${r.sku}\u0000${r.batch}\u0000${r.project}`;

/** An edge's key. */
export const edgeKey = (e: { site: string; edge: string }): string => `${e.site}/${e.edge}`;
