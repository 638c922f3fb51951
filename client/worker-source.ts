/**
 * The bundled worker's source. This placeholder is empty in the source tree; `npm run build:sdk`
 * replaces it with the self-contained worker bundle, so the SDK needs no worker URL of its own.
 * Unbuilt (tests, dev servers), pass `workerUrl` to createFleet.
 */
const source: string = ''
export default source
