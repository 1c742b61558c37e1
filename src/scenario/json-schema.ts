/**
 * The scenario format as a JSON Schema, for editors (issue 12 item 8): a file whose `"$schema"` names
 * it gets validation, completion and hover text. Generated from the zod schemas the loader validates
 * with (`schema.ts`), on their input side (what a file may hold, before the loader normalizes it), so
 * it cannot drift from them; the build writes it to the package as `scenario.schema.json`, and
 * `svasim schema` prints it.
 *
 * Draft-07: the newest draft editors handle fully (VS Code warns on 2020-12 schemas and validates them
 * as an older draft). Where the loader checks more than a JSON Schema can say, the schema accepts more,
 * never less; `description` lists what only the loader checks.
 */
import { z } from 'zod';
import { scenarioFileSchema } from './schema.ts';

export type JsonSchema = z.core.JSONSchema.BaseSchema;

/** The schema's `$id`: a name, not a location (the file is found by path; see the README). */
export const SCENARIO_SCHEMA_ID = 'urn:svasim:scenario:1';

/** What the loader checks that the JSON Schema does not: references between fields, and one order. */
export const LOADER_ONLY_CHECKS: readonly string[] = [
  'a step\'s thread is created by a spawn, clone or fork step of the file (naming it before that step or after it exited is ESRCH at run time, not a load error)',
  'a step\'s device is declared in devices',
  'names created by spawn, clone and fork are unique, and so are device names',
  'a device\'s threshold is at most its wqSize (32 when absent)',
  'final.pasid names processes (not threads created by clone); final.msr names threads',
  'iommu.pasidRange has min <= max',
  'an arch_prctl code or arg written in hex is at most 2^53',
  'a field appears once in its object (JSON parsers keep the last duplicate silently; the loader refuses it)',
  'a device\'s kind is "wq" (svasim\'s work queue) or a device model registered by a plugin or the library',
  'an actor\'s kind is an actor kind so registered, and actors of one kind have distinct names',
  'a close step names either fd or device, not both and not neither',
  'options belong to a device of a registered kind (not svasim\'s work queue) or an actor, and pass that kind\'s options schema when it has one',
];

const DESCRIPTION = `A svasim scenario (format version 1): processes, threads and accelerator devices, the steps they take, and what must hold. Run it with \`svasim run FILE\`. Besides what this schema says, the loader checks: ${LOADER_ONLY_CHECKS.join('; ')}.`;

/** The JSON Schema of a scenario file. */
export function scenarioJsonSchema(): JsonSchema {
  const { $schema, ...body } = jsonSchemaOf(scenarioFileSchema);
  return { $schema, $id: SCENARIO_SCHEMA_ID, title: 'svasim scenario', description: DESCRIPTION, ...body };
}

/**
 * The JSON Schema (draft-07) of what `schema` accepts as input.
 * @throws Error when a part of `schema` has no JSON Schema, or is a transform whose input side accepts
 *   anything (a leaf that does not say what it accepts would let every value through, silently): a
 *   programming error in the zod schemas, named by its JSON Pointer. A plain `z.unknown()` (a field that
 *   takes any JSON value, like a device's `options`) is meant, and stays `{}`.
 */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema, path }) => {
      if (zodSchema._zod.def.type === 'pipe' && Object.keys(jsonSchema).every((k) => k === 'description' || k === 'title')) {
        throw new Error(`JSON Schema: /${path.join('/')} accepts anything: its zod schema is a transform of unknown input; say what it accepts (see leaf() in schema.ts)`);
      }
    },
  });
}

/** The schema as the package ships it and `svasim schema` prints it: two-space JSON and a newline. */
export function scenarioJsonSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}
