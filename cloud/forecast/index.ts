/** The public face of cloud/forecast: the pure rules, the forecast and reorder services, routes. */
export * from './rules.js';
export { DEFAULT_LEAD_TIME_DAYS, forecastOf, MAX_PERIODS, type ProcurementSource, reorderSuggestions } from './service.js';
export { forecastDocs, forecastRoutes } from './routes.js';
