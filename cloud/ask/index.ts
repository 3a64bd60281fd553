/** The public face of cloud/ask: the pure parser, the service, the route. */
export * from './rules.js';
export { ask, type AskAnswer } from './service.js';
export { askDocs, askRoutes } from './routes.js';
