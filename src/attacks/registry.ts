/**
 * Every attack ensdef can run: the definitions in src/attacks/catalog/, one per file, found at start-up.
 * Adding an attack is adding one file there; the command line, result rows, reproduce steps and the
 * report take it from here.
 */
import { readdirSync } from 'node:fs';
import { UserError } from '../errors.ts';
import type { AttackDefinition, AttackSpec, ParamDef } from './definition.ts';
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

/** The attack `id` on a data set with the given parameter values over its defaults. */
export function resolveAttack(dataset: DatasetDescriptor, id: string, given: Readonly<Record<string, number | undefined>> = {}): AttackSpec {
  return { attack: id, params: attackDefinition(id).resolve(dataset, given) };
}

/** Whether a spec is one of the paper's attacks at the paper's own setting on a data set (e.g. BIM with ε .2, α .025, n 8 on MNIST). */
export function isPaperSpec(dataset: DatasetDescriptor, spec: AttackSpec): boolean {
  const definition = attackDefinition(spec.attack);
  if (!definition.paper) return false;
  const paper = definition.resolve(dataset, {});
  return definition.params.every((p) => paper[p.key] === spec.params[p.key]);
}

/** Whether a spec attacks at its attack's default ε on the data set (the threat model the report compares at). */
export function atDefaultEps(dataset: DatasetDescriptor, spec: AttackSpec): boolean {
  return attackDefinition(spec.attack).resolve(dataset, {}).eps === spec.params.eps;
}
