import { existsSync } from 'node:fs';

/** A Chromium the dashboard test can drive, and where it was found. */
export interface FoundBrowser {
  readonly executablePath: string;
  readonly source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/**
 * Flags for a headless browser on a machine with no network but loopback: without the background-networking
 * ones Chromium keeps trying (and failing) to reach its update and sync services.
 */
export const BROWSER_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Finds a Chromium in this order: `CHROMIUM_PATH`, the system's, then the one the `@sparticuz/chromium`
 * devDependency ships inside its npm tarball (Linux x64 only; unpacked once into the temp folder).
 * Returns the reason instead when none can exist here; a `CHROMIUM_PATH` that names no file is an error.
 */
export async function findChromium(): Promise<FoundBrowser | { readonly missing: string }> {
  const configured = process.env['CHROMIUM_PATH'];
  if (configured !== undefined && configured !== '') {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} names no file`);
    return { executablePath: configured, source: 'CHROMIUM_PATH' };
  }
  const system = SYSTEM_BROWSERS.find((path) => existsSync(path));
  if (system !== undefined) return { executablePath: system, source: 'system' };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      missing:
        `no Chromium found, and the packaged one (@sparticuz/chromium) runs on Linux x64 only (this is ${process.platform} ${process.arch}). ` +
        'Install Chromium or Chrome and set CHROMIUM_PATH to its executable.',
    };
  }
  const packaged = (await import('@sparticuz/chromium')).default;
  return { executablePath: await packaged.executablePath(), source: '@sparticuz/chromium' };
}
