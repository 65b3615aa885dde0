import { getMetadataStorage, type ValidationArguments } from 'class-validator';

/** Says whether a DTO instance passes every validator class-validator would run on it. */
export type FastCheck = (dto: object) => boolean;

interface PropertyPlan {
  property: string;
  /** `@IsOptional()` / `@ValidateIf()`: when one says false the property is not validated. */
  conditions: ((object: object, value: unknown) => boolean)[];
  checks: {
    validateIf?: (object: object, value: unknown) => boolean;
    constraints: unknown[];
    validate: (value: unknown, args: ValidationArguments) => unknown;
  }[];
}

/**
 * The pass path of class-validator's `validateSync`, planned once per DTO class: the same
 * validator functions called with the same arguments, without rebuilding the metadata grouping,
 * the error objects and the closures that `validateSync` allocates on every call (about 3 us per
 * frame here, the biggest single cost of a client message after the writes).
 *
 * It only answers "valid": a frame it does not pass goes through `validateSync`, which stays the
 * authority and builds the error. Returns null (always use `validateSync`) for anything outside the
 * plain, synchronous, per-property subset the envelope DTOs use: nested validation, `each`, groups,
 * `@IsDefined`, async constraints. fast-validator.spec.ts compares both on generated inputs for
 * every envelope DTO.
 */
export function planFastCheck(metatype: new () => object): FastCheck | null {
  const storage = getMetadataStorage();
  // The same query validateSync makes with the options EnvelopePipe passes.
  const metadatas = storage.getTargetValidationMetadatas(metatype, '', false, false, undefined);
  if (metadatas.length === 0) return null;
  const plans = new Map<string, PropertyPlan>();
  for (const m of metadatas) {
    if (m.each || (m.groups !== undefined && m.groups.length > 0) || m.always) return null;
    let plan = plans.get(m.propertyName);
    if (plan === undefined) {
      plan = { property: m.propertyName, conditions: [], checks: [] };
      plans.set(m.propertyName, plan);
    }
    if (m.type === 'conditionalValidation') {
      plan.conditions.push(m.constraints[0] as (object: object, value: unknown) => boolean);
    } else if (m.type === 'customValidation') {
      for (const c of storage.getTargetValidatorConstraints(m.constraintCls)) {
        if (c.async) return null;
        const instance = c.instance as { validate: PropertyPlan['checks'][number]['validate'] };
        plan.checks.push({
          validateIf: (m as { validateIf?: (object: object, value: unknown) => boolean }).validateIf,
          constraints: m.constraints,
          validate: instance.validate.bind(instance),
        });
      }
    } else {
      return null;
    }
  }
  const list = [...plans.values()];
  const targetName = metatype.name;
  return (dto: object): boolean => {
    for (let i = 0; i < list.length; i++) {
      const plan = list[i];
      const value = (dto as Record<string, unknown>)[plan.property];
      let validate = true;
      for (let j = 0; j < plan.conditions.length; j++) validate = plan.conditions[j](dto, value) && validate;
      if (!validate) continue;
      for (let j = 0; j < plan.checks.length; j++) {
        const check = plan.checks[j];
        if (check.validateIf !== undefined && !check.validateIf(dto, value)) continue;
        const ok = check.validate(value, {
          targetName,
          property: plan.property,
          object: dto,
          value,
          constraints: check.constraints,
        });
        if (!ok || (typeof ok === 'object' && typeof (ok as { then?: unknown }).then === 'function'))
          return false;
      }
    }
    return true;
  };
}
