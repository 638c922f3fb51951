/** Where the system Chromium lives (Debian's `chromium` package) unless EDGEFLEET_CHROMIUM says otherwise. */
export const chromiumPath = process.env.EDGEFLEET_CHROMIUM ?? '/usr/bin/chromium'

/** Flags that keep a headless Chromium quiet on a closed network. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
