import type { Scope } from '../../core/formats/registry.ts'

/** Who is calling: a token (by its name, the actor recorded in events) and what it may do. */
export interface Principal {
  tokenId: string
  name: string
  scopes: readonly Scope[]
  /** Origins an app key accepts (null: any). */
  origins: readonly string[] | null
}

/** True when the principal holds `scope` (`admin` holds every scope but `device`-only routes accept it too). */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope)
}
