// Token ids as an Arrow table of list<int32> columns, built from flat buffers without per-row JS arrays,
// and read back as (offsets, values) pairs the collator slices directly.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { Field, Int32, List, makeData, Table, tableFromIPC, tableToIPC, Vector, type Data } from 'apache-arrow';
import { AlignkitError } from '../errors.js';

/** One list<int32> column being filled row by row. */
export class IdColumnBuilder {
  #values = new Int32Array(1024);
  #offsets: number[] = [0];

  get length(): number {
    return this.#offsets.length - 1;
  }

  push(ids: ArrayLike<number>): void {
    const end = this.#offsets.at(-1)! + ids.length;
    if (end > this.#values.length) {
      const grown = new Int32Array(Math.max(end, 2 * this.#values.length));
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values.set(ids, end - ids.length);
    this.#offsets.push(end);
  }

  finish(): Data<List<Int32>> {
    const values = makeData({
      type: new Int32(),
      length: this.#offsets.at(-1)!,
      data: this.#values.subarray(0, this.#offsets.at(-1)!),
    });
    return makeData({
      type: new List(new Field('item', new Int32(), true)),
      length: this.length,
      nullCount: 0,
      valueOffsets: Int32Array.from(this.#offsets),
      child: values,
    });
  }
}

export function buildTable(columns: Record<string, IdColumnBuilder>): Table {
  const vectors: Record<string, Vector<List<Int32>>> = {};
  for (const [name, builder] of Object.entries(columns)) vectors[name] = new Vector([builder.finish()]);
  return new Table(vectors);
}

/** A list<int32> column as one offsets array and one values array (chunks concatenated once). */
export interface IdColumn {
  offsets: Int32Array;
  values: Int32Array;
}

export function idColumn(table: Table, name: string): IdColumn {
  const vector = table.getChild(name);
  if (!vector)
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `table has no column '${name}' (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`,
    );
  const chunks = vector.data as Data<List<Int32>>[];
  if (chunks.length === 1) {
    const d = chunks[0]!;
    const offsets = d.valueOffsets.subarray(d.offset, d.offset + d.length + 1);
    return { offsets, values: d.children[0]!.values as Int32Array };
  }
  const builder = new IdColumnBuilder();
  for (let i = 0; i < vector.length; i++) builder.push(vector.get(i)!.toArray() as Int32Array);
  return idColumn(new Table({ [name]: new Vector([builder.finish()]) }), name);
}

/** Writes an Arrow IPC file atomically (temp file renamed), so a crash never leaves half a table. */
export async function writeArrowFile(table: Table, path: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, tableToIPC(table, 'file'));
  await rename(tmp, path);
}

export async function readArrowFile(path: string): Promise<Table> {
  return tableFromIPC(await readFile(path));
}
