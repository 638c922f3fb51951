import type { Scope } from '../../core/formats/registry.ts'

/** Who is calling: a token (by its name, the actor recorded in events) and what it may do. */
export interface Principal {
  tokenId: string
  name: string
  scopes: readonly Scope[]
  /** Origins an app key accepts (null: any). */
  origins: readonly string[] | null
}

/** Scopes that a scope carries with it: `admin` holds all; writing the registry needs reading it. */
const IMPLIED: Partial<Record<Scope, readonly Scope[]>> = {
  'registry:write': ['registry:read'],
}

/** True when the principal holds `scope`, directly or through a scope that implies it. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.some((s) => s === 'admin' || s === scope || IMPLIED[s]?.includes(scope))
}
