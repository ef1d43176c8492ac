// Which addon the loader picks and when it refuses: a prebuild whose libtorch.json names another torch version than
// the package's .libtorch holds, or a source build whose libtorch changed since, is refused before the load with
// both versions named; the install record can only point at the places install.mjs writes. Also the install's CPU /
// CUDA choice (scripts/libtorch/device.mjs) and the RUNPATH reader the tarball check uses.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseAddonFile } from '../../src/addon-file.js';
import { tempDir } from '../helpers/fixtures.js';
// @ts-expect-error -- plain .mjs scripts, no declarations
import { pickDevice } from '../../scripts/libtorch/device.mjs';
// @ts-expect-error -- plain .mjs scripts, no declarations
import { elfRunpath } from '../../scripts/pack/elf-runpath.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const platform = `${process.platform}-${process.arch}`;

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A package root with a CPU prebuild built for `builtFor` and a .libtorch holding `holds` (none when undefined). */
function prebuiltPackage(builtFor: string, holds: string | undefined): string {
  const root = tempDir('addon-file');
  write(join(root, 'prebuilds', platform, 'cpu', 'alignkit.node'), 'not loaded by these tests');
  write(
    join(root, 'prebuilds', platform, 'cpu', 'libtorch.json'),
    JSON.stringify({ variant: 'cpu', version: builtFor }),
  );
  if (holds !== undefined) write(join(root, '.libtorch', 'torch', 'version.py'), `__version__ = '${holds}'\n`);
  return root;
}

describe('chooseAddonFile', () => {
  it('takes the prebuild when the package libtorch is the version it was built for', () => {
    const root = prebuiltPackage('2.13.0+cpu', '2.13.0+cpu');
    const file = chooseAddonFile(root);
    expect(file.path).toBe(join(root, 'prebuilds', platform, 'cpu', 'alignkit.node'));
    expect(file.builtFor).toBe('2.13.0+cpu');
    expect(file.libtorchRoot).toBe(join(root, '.libtorch', 'torch'));
  });

  it('refuses a prebuild whose libtorch is another version, naming both', () => {
    const root = prebuiltPackage('2.13.0+cpu', '2.14.1');
    expect(() => chooseAddonFile(root)).toThrow(
      expect.objectContaining({
        code: 'ERR_NATIVE',
        message: expect.stringMatching(/built for libtorch 2\.13\.0\+cpu.*holds libtorch 2\.14\.1.*alignkit setup/s),
      }),
    );
  });

  it('refuses when the package has no libtorch yet', () => {
    const root = prebuiltPackage('2.13.0+cpu', undefined);
    expect(() => chooseAddonFile(root)).toThrow(
      expect.objectContaining({ code: 'ERR_NATIVE', message: expect.stringMatching(/there is none at/) }),
    );
  });

  it('refuses a source build whose libtorch changed version since it was built', () => {
    const root = tempDir('addon-file');
    const torch = join(root, 'elsewhere', 'torch');
    write(join(torch, 'version.py'), "__version__ = '2.15.0'\n");
    write(join(root, 'build', 'Release', 'alignkit.node'), '');
    write(join(root, 'build', 'Release', 'libtorch.json'), JSON.stringify({ version: '2.13.0+cpu', root: torch }));
    expect(() => chooseAddonFile(root)).toThrow(/built for libtorch 2\.13\.0\+cpu, but .* holds libtorch 2\.15\.0/);
  });

  it('follows the install record only to the places install.mjs writes', () => {
    const root = prebuiltPackage('2.13.0+cpu', '2.13.0+cpu');
    write(join(root, 'elsewhere.node'), '');
    write(join(root, '.libtorch', 'install.json'), JSON.stringify({ variant: 'cpu', addon: '../elsewhere.node' }));
    expect(chooseAddonFile(root).path).toBe(join(root, 'prebuilds', platform, 'cpu', 'alignkit.node'));
  });

  it('refuses when no addon is installed at all', () => {
    expect(() => chooseAddonFile(tempDir('addon-file'))).toThrow(/native addon is not installed/);
  });
});

describe('pickDevice', () => {
  it('takes ALIGNKIT_DEVICE when set, and refuses other values', () => {
    expect(pickDevice({ ALIGNKIT_DEVICE: 'cpu' })).toEqual({ variant: 'cpu', reason: 'ALIGNKIT_DEVICE=cpu' });
    expect(pickDevice({ ALIGNKIT_DEVICE: 'CUDA' })).toEqual({ variant: 'cuda', reason: 'ALIGNKIT_DEVICE=cuda' });
    expect(() => pickDevice({ ALIGNKIT_DEVICE: 'gpu' })).toThrow(/must be cpu or cuda/);
  });

  it('takes CUDA when nvidia-smi lists a GPU', () => {
    const bin = tempDir('fake-nvidia-smi');
    write(join(bin, 'nvidia-smi'), '#!/bin/sh\necho "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)"\n');
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    const { variant, reason } = pickDevice({ PATH: `${bin}:${process.env.PATH}` }) as {
      variant: string;
      reason: string;
    };
    expect(variant).toBe('cuda');
    expect(reason).toMatch(/NVIDIA driver found/);
  });

  it('otherwise says what it looked for', () => {
    const { variant, reason } = pickDevice({}) as { variant: string; reason: string };
    expect(['cpu', 'cuda']).toContain(variant);
    expect(reason).toMatch(variant === 'cuda' ? /NVIDIA driver found/ : /no NVIDIA driver found/);
  });
});

describe('elfRunpath', () => {
  it("reads the source build's RUNPATH, which starts at the package's own .libtorch", () => {
    const runpath = elfRunpath(join(repo, 'build', 'Release', 'alignkit.node')) as string;
    expect(runpath.split(':')[0]).toBe('$ORIGIN/../../.libtorch/torch/lib');
  });
});
