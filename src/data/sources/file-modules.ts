// Which `datasets` loader a repo's data files go to (datasets/load.py: infer_module_for_data_files_list): the
// most common extension wins, `.parquet` on a tie. The tables are datasets' _EXTENSION_TO_MODULE and
// _ALL_ALLOWED_EXTENSIONS (test/data/sources checks them against the installed datasets' own).
import { basename } from 'node:path';
import { AlignkitError } from '../../errors.js';
import type { DatasetFormat } from '../readers/index.js';

/** datasets' packaged loaders and the (lower-case) extensions that select them. */
export const MODULE_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  csv: ['.csv', '.tsv'],
  json: ['.json', '.jsonl', '.ndjson'],
  parquet: ['.parquet', '.geoparquet', '.gpq'],
  arrow: ['.arrow'],
  text: ['.txt'],
  conll: ['.conll', '.conllu'],
  webdataset: ['.tar'],
  xml: ['.xml'],
  hdf5: ['.hdf5', '.h5'],
  eval: ['.eval'],
  lance: ['.lance'],
  tsfile: ['.tsfile'],
  imagefolder: [
    '.blp',
    '.bmp',
    '.dib',
    '.bufr',
    '.cur',
    '.pcx',
    '.dcx',
    '.dds',
    '.ps',
    '.eps',
    '.fit',
    '.fits',
    '.fli',
    '.flc',
    '.ftc',
    '.ftu',
    '.gbr',
    '.gif',
    '.grib',
    '.png',
    '.apng',
    '.jp2',
    '.j2k',
    '.jpc',
    '.jpf',
    '.jpx',
    '.j2c',
    '.icns',
    '.ico',
    '.im',
    '.iim',
    '.tif',
    '.tiff',
    '.jfif',
    '.jpe',
    '.jpg',
    '.jpeg',
    '.msp',
    '.pcd',
    '.pxr',
    '.pbm',
    '.pgm',
    '.ppm',
    '.pnm',
    '.psd',
    '.bw',
    '.rgb',
    '.rgba',
    '.sgi',
    '.ras',
    '.tga',
    '.icb',
    '.vda',
    '.vst',
    '.webp',
    '.wmf',
    '.emf',
    '.xbm',
    '.xpm',
  ],
  audiofolder: [
    '.mpg',
    '.aiff',
    '.au',
    '.avr',
    '.caf',
    '.flac',
    '.htk',
    '.svx',
    '.mat4',
    '.mat5',
    '.mpc2k',
    '.ogg',
    '.paf',
    '.pvf',
    '.raw',
    '.rf64',
    '.sd2',
    '.sds',
    '.ircam',
    '.voc',
    '.w64',
    '.wav',
    '.nist',
    '.wavex',
    '.wve',
    '.xi',
    '.mp3',
    '.opus',
    '.3gp',
    '.3g2',
    '.asf',
    '.flv',
    '.m4v',
    '.webm',
    '.f4v',
    '.wmv',
    '.wma',
    '.ogm',
    '.mxf',
    '.nut',
  ],
  videofolder: ['.mpeg', '.avi', '.mp4', '.mov', '.mkv'],
  meshfolder: ['.glb', '.ply', '.stl'],
  pdffolder: ['.pdf'],
  niftifolder: ['.nii'],
};
/** Loaders whose extensions datasets also accepts in upper case. */
const UPPER_CASE_MODULES = ['imagefolder', 'audiofolder', 'videofolder', 'meshfolder', 'pdffolder', 'niftifolder'];
/** Archives and lance's side files: allowed in a pattern's matches, no loader of their own. */
const OTHER_ALLOWED = ['.zip', '.idx', '.manifest', '.txn'];

export const EXTENSION_TO_MODULE: ReadonlyMap<string, string> = new Map(
  Object.entries(MODULE_EXTENSIONS).flatMap(([module, exts]) => [
    ...exts.map((ext): [string, string] => [ext, module]),
    ...(UPPER_CASE_MODULES.includes(module) ? exts.map((ext): [string, string] => [ext.toUpperCase(), module]) : []),
  ]),
);

/** datasets' _ALL_ALLOWED_EXTENSIONS (case-sensitive, as it tests them). */
export const ALLOWED_EXTENSIONS: ReadonlySet<string> = new Set([...EXTENSION_TO_MODULE.keys(), ...OTHER_ALLOWED]);

const suffixes = (file: string) =>
  basename(file)
    .split('.')
    .slice(1)
    .map((s) => `.${s}`);

/** Side files of the folder loaders (images with captions...): counted after every data file. */
const METADATA_FILE_NAMES = ['latest_version_hint.json', 'metadata.csv', 'metadata.jsonl', 'metadata.parquet'];

/** infer_module_for_data_files_list: the loader for a list of files (null when none has a loader's extension). */
export function inferModule(files: readonly string[]): string | null {
  const counts = new Map<string, { ext: string; metadata: boolean; count: number }>();
  for (const file of files) {
    const metadata = METADATA_FILE_NAMES.includes(basename(file));
    for (const suffix of suffixes(file)) {
      const ext = suffix.toLowerCase();
      const key = `${ext}\0${metadata}`;
      const entry = counts.get(key) ?? { ext, metadata, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
  }
  // datasets' sort key, descending: data files before metadata files, by count, then .parquet, .lance, .arrow,
  // .jsonl, .json, .csv first on a tie, then by extension.
  const preferred = ['.parquet', '.lance', '.arrow', '.jsonl', '.json', '.csv'];
  const ranked = [...counts.values()].sort((a, b) => {
    if (a.metadata !== b.metadata) return a.metadata ? 1 : -1;
    if (a.count !== b.count) return b.count - a.count;
    for (const ext of preferred) if ((a.ext === ext) !== (b.ext === ext)) return a.ext === ext ? -1 : 1;
    return a.ext < b.ext ? 1 : a.ext > b.ext ? -1 : 0;
  });
  for (const { ext } of ranked) {
    if (EXTENSION_TO_MODULE.has(ext)) return EXTENSION_TO_MODULE.get(ext)!;
    if (ext === '.zip') return 'zip';
  }
  return null;
}

/** DataFilesList.filter(extensions=_MODULE_TO_EXTENSIONS[module]): files whose name has one of the loader's extensions. */
export function filterToModule(files: readonly string[], module: string): string[] {
  const exts = [...(MODULE_EXTENSIONS[module] ?? []), '.zip'].map((ext) => ext.replace(/[.]/g, '\\.'));
  const regex = new RegExp(`^.*(${exts.join('|')})(\\..+)?$`, 's');
  return files.filter((file) => regex.test(file));
}

/**
 * The alignkit reader for one data file of a split `datasets` reads with `module`; an error for what alignkit
 * cannot read (a loader it has no reader for, compressed or archived files).
 */
export function readerFormat(file: string, module: string, where: string): DatasetFormat {
  const exts = suffixes(file).map((s) => s.toLowerCase());
  const last = exts[exts.length - 1];
  const unsupported = (why: string) => new AlignkitError('ERR_INVALID_DATA', `${where}: ${file}: ${why}`);
  if (module === 'zip' || last === '.zip') throw unsupported('zip archives are not read; extract the data files first');
  if (module === 'csv' && last === '.tsv')
    throw unsupported('tab-separated files are not read; convert to .csv, .jsonl or .parquet');
  const formats: Record<string, DatasetFormat> = {
    json: last === '.json' ? 'json' : 'jsonl',
    parquet: 'parquet',
    csv: 'csv',
    arrow: 'arrow',
  };
  const format = formats[module];
  if (!format)
    throw unsupported(
      `datasets reads it with its '${module}' loader; alignkit reads json, jsonl, parquet, csv and arrow files`,
    );
  if (last === undefined || !MODULE_EXTENSIONS[module]!.includes(last)) {
    throw unsupported(
      exts.some((ext) => MODULE_EXTENSIONS[module]!.includes(ext))
        ? `compressed data files (${last}) are not read; decompress it first`
        : `not a ${MODULE_EXTENSIONS[module]!.join(' / ')} file, which the '${module}' loader reads`,
    );
  }
  return format;
}
