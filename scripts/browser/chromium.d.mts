/** The command that runs a headless Chromium; fetches Debian's chromium-headless-shell the first time none is found. */
export function chromium(): string;
