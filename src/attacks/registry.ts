/**
 * Every attack ensdef can run: the definitions in src/attacks/catalog/, one per file, found at start-up.
 * Adding an attack is adding one file there; the command line, result rows, reproduce steps and the
 * report take it from here.
 */
import { readdirSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { resolveSpec, type AttackDefinition, type AttackSpec, type ParamDef } from './definition.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';

const CATALOG = new URL('./catalog/', import.meta.url);

async function discover(): Promise<AttackDefinition[]> {
  const files = readdirSync(CATALOG).filter((name) => /\.[cm]?[jt]s$/.test(name) && !name.endsWith('.d.ts')).sort();
  const definitions: AttackDefinition[] = [];
  for (const file of files) {
    const module = (await import(new URL(file, CATALOG).href)) as { attack?: AttackDefinition };
    if (!module.attack) throw new Error(`src/attacks/catalog/${file} exports no 'attack' definition`);
    definitions.push(module.attack);
  }
  const ids = definitions.map((d) => d.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw new Error(`two attacks in src/attacks/catalog/ have the id '${repeated}'`);
  return definitions.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

/** In order: the paper's attacks first. */
export const ATTACKS: readonly AttackDefinition[] = await discover();
export const ATTACK_IDS: readonly string[] = ATTACKS.map((a) => a.id);

export function attackDefinition(id: string): AttackDefinition {
  const definition = ATTACKS.find((a) => a.id === id);
  if (!definition) throw new UserError(`unknown attack '${id}' (known: ${ATTACK_IDS.join(', ')})`);
  return definition;
}

/** Every parameter any attack takes, once per key; a key means one thing for every attack that takes it. */
export const ATTACK_PARAMS: readonly ParamDef[] = (() => {
  const byKey = new Map<string, ParamDef>();
  for (const param of ATTACKS.flatMap((a) => a.params)) {
    const known = byKey.get(param.key);
    if (known && known !== param) throw new Error(`attack parameter '${param.key}' is declared twice with different meanings; share one ParamDef (src/attacks/params.ts)`);
    byKey.set(param.key, param);
  }
  return [...byKey.values()];
})();

/** The attack `id` on a data set with the given parameter values over its defaults: the one place an id becomes a spec. */
export function resolveAttack(dataset: DatasetDescriptor, id: string, given: Readonly<Record<string, number | undefined>> = {}): AttackSpec {
  return resolveSpec(attackDefinition(id), dataset, given);
}
