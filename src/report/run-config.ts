// The run's config as output_dir/training_args.json holds it (resolved, TRL's defaults filled in): the keys the
// run set away from the defaults, which say what it was, and the whole of it.
import type { Schema } from '../config/schema.js';
import { trainerSchemas } from '../config/trainer-fields.js';
import { keyValueTable, type JsonObject, type Table } from './tables.js';

const schemas: Record<string, Schema> = trainerSchemas;

export function configTables(config: JsonObject): { set: Table; all: Table } {
  const schema = schemas[String(config.trainer)] ?? {};
  const isDefault = (key: string) =>
    key in schema && JSON.stringify(config[key]) === JSON.stringify(schema[key]!.default);
  const set = Object.fromEntries(Object.entries(config).filter(([key]) => !isDefault(key)));
  return { set: keyValueTable(['key', 'value'], set), all: keyValueTable(['key', 'value'], config) };
}
