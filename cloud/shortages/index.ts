/** The public face of cloud/shortages: the pure rules, the service over a site's projects, the route. */
export * from './rules.js';
export { DEFAULT_LEAD_TIME_DAYS, type IncomingSource, projectShortages, setIncomingSource, setSupplierSource, type ShortageItem, type SupplierSource } from './service.js';
export { shortagesDocs, shortagesRoutes } from './routes.js';
