import type { Principal } from './auth/principal.ts'

/** Hono's environment for every edgefleet route: the Worker bindings and the authenticated caller. */
export interface AppEnv {
  Bindings: Env
  Variables: { principal: Principal }
}
