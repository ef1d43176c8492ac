// Which addon file to load, and whether the libtorch it will find is the one it was built for — checked before the
// load, since a mismatching libtorch fails in dlopen with an undefined symbol, or loads and misbehaves.
// scripts/install.mjs records its choice in .libtorch/install.json; a source build records its libtorch in
// build/Release/libtorch.json, a prebuild the torch version it needs in prebuilds/<platform>/<variant>/libtorch.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlignkitError } from './errors.js';

/** What `npm install` / `alignkit setup` chose and why (.libtorch/install.json). */
export interface InstallRecord {
  variant: 'cpu' | 'cuda';
  reason: string;
  addon: string;
  builtFromSource: boolean;
  torch: { version: string; source: string; root: string; cuda: boolean };
  seconds: number;
}

export interface AddonFile {
  path: string;
  /** The libtorch folder its RUNPATH leads to and the version it was built for. */
  libtorchRoot: string;
  builtFor: string;
  install?: InstallRecord;
}

const SOURCE_BUILD = join('build', 'Release', 'alignkit.node');

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A libtorch folder's version: the official zip's build-version, a pip torch's version.py; undefined if neither. */
export function libtorchVersion(root: string): string | undefined {
  const buildVersion = join(root, 'build-version');
  if (existsSync(buildVersion)) return readFileSync(buildVersion, 'utf8').trim();
  const versionPy = join(root, 'version.py');
  if (!existsSync(versionPy)) return undefined;
  return /__version__\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(versionPy, 'utf8'))?.[1];
}

function refuse(message: string): never {
  throw new AlignkitError(
    'ERR_NATIVE',
    `${message} Run \`npx alignkit setup\` to install the matching libtorch and addon.`,
  );
}

/** The addon to load under `root` (the package root), its libtorch checked; throws ERR_NATIVE naming both versions. */
export function chooseAddonFile(root: string): AddonFile {
  const install = readJson<InstallRecord>(join(root, '.libtorch', 'install.json'));
  const prebuilds = ['cpu', 'cuda'].map((variant) =>
    join('prebuilds', `${process.platform}-${process.arch}`, variant, 'alignkit.node'),
  );
  // Only the places install.mjs writes to: the record names one of them.
  const recorded = install && [SOURCE_BUILD, ...prebuilds].includes(install.addon) ? install.addon : undefined;
  const relativePath =
    recorded ??
    (existsSync(join(root, SOURCE_BUILD))
      ? SOURCE_BUILD
      : join('prebuilds', `${process.platform}-${process.arch}`, 'cpu', 'alignkit.node'));
  const path = join(root, relativePath);
  if (!existsSync(path)) refuse(`alignkit's native addon is not installed (no ${path}).`);
  const built = readJson<{ version?: string; root?: string }>(join(path, '..', 'libtorch.json'));
  if (!built?.version) refuse(`alignkit's addon ${path} has no readable libtorch.json beside it.`);
  // A source build runs against the libtorch it was built with; a prebuild against the package's .libtorch.
  const fromSource = relativePath === SOURCE_BUILD;
  const libtorchRoot = fromSource && built.root ? built.root : join(root, '.libtorch', 'torch');
  const found = libtorchVersion(libtorchRoot);
  if (found === undefined)
    refuse(`alignkit's addon ${path} was built for libtorch ${built.version}, and there is none at ${libtorchRoot}.`);
  if (found !== built.version)
    refuse(
      `alignkit's addon ${path} was built for libtorch ${built.version}, but ${libtorchRoot} holds libtorch ${found}: ` +
        'a different version cannot be loaded.',
    );
  return { path, libtorchRoot, builtFor: built.version, install };
}
