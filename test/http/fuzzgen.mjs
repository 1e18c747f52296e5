// Helpers shared by isolation.test.mjs and fuzz.test.mjs: walking the OpenAPI
// document (operations, $ref resolution), a plausible example body for a
// schema, a seeded PRNG, and a small concurrency pool.

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

// Every operation of the document: {method (upper case), path, op, schema, contentType}.
export function operations(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const content = op.requestBody?.content || {};
      const contentType = Object.keys(content)[0] || null;
      const schema = contentType ? resolve(doc, content[contentType].schema) : null;
      out.push({ method: m.toUpperCase(), path, op, schema, contentType, public: !op.security || op.security.length === 0 });
    }
  }
  return out;
}

export function resolve(doc, schema, depth = 0) {
  if (!schema || depth > 10) return schema;
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return resolve(doc, doc.components.schemas[name], depth + 1);
  }
  if (schema.allOf) {
    const merged = { type: 'object', properties: {}, required: [] };
    for (const s of schema.allOf.map((x) => resolve(doc, x, depth + 1))) {
      Object.assign(merged.properties, s.properties || {});
      merged.required.push(...(s.required || []));
    }
    return merged;
  }
  return schema;
}

// A value that satisfies the schema as far as a simple reading goes.
export function sample(schema, name = '') {
  if (!schema) return null;
  if (schema.enum) return schema.enum[0];
  if (schema.oneOf) return sample(schema.oneOf[0], name);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const o = {};
      for (const [k, v] of Object.entries(schema.properties || {})) o[k] = sample(v, k);
      return o;
    }
    case 'array': return [sample(schema.items || { type: 'string' }, name)];
    case 'integer': return 60;
    case 'number': return 1.5;
    case 'boolean': return true;
    case 'string': {
      if (schema.pattern === '^#[0-9a-fA-F]{6}$') return '#123456';
      if (schema.format === 'email' || /email|username/.test(name)) return `probe-${Math.random().toString(36).slice(2, 8)}@probe.test`;
      if (schema.format === 'uri' || /uri/.test(name)) return 'https://a.example/cb';
      if (name === 'slug') return `probe-${Math.random().toString(36).slice(2, 10)}`;
      if (/password/.test(name)) return 'probe-password-1';
      if (name === 'scope') return 'read';
      return 'probe';
    }
    default: return 'probe';
  }
}

// mulberry32: a small seeded PRNG, so a run can be replayed from its seed.
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
}

// Runs async jobs with at most `limit` in flight; returns their results in order.
export async function pool(jobs, limit, fn) {
  const results = new Array(jobs.length);
  let i = 0;
  const worker = async () => {
    while (i < jobs.length) {
      const k = i++;
      results[k] = await fn(jobs[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
