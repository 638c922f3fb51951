declare namespace Cloudflare {
  interface Env {
    // An ambient declaration file cannot have a top-level import without turning into a module.
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[]
  }
}
