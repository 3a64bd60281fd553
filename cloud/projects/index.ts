/** The public face of `cloud/projects/`: other modules import from here only. */
export { projectsModule } from './module.js';
export { projectsOfManager } from './repo.js';
