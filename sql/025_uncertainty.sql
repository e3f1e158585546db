-- Uncertainty of a carbon total whose terms share factors (IPCC 2006 Vol. 1 Ch. 3).
--
-- total = sum_i coef_i x prod_{k in F_i} x_k: each term is an area (or a pixel-count
-- coefficient, negative for what a class lost) times a density written as a product of factors,
-- e.g. SOC_REF(climate, soil) x F_LU(class) for Tier 1 soil carbon, or one factor for a density
-- taken from plots or a parameter set. A factor named by several terms (the same SOC_REF for
-- every class of a region, the same density at t1 and t2, inside a project and in its baseline)
-- is ONE quantity, so its errors are fully correlated between those terms.
--
-- terms: jsonb array of {"c": coef, "f": [[key, value, u_pct], ...]}, u_pct = 95 % CI
-- half-width in % of the value (IPCC's U); a null u_pct is "not quantified".
--
-- Approach 1: first-order error propagation over the distinct factors,
--   Var(total) = sum_k (d total / d x_k)^2 sd_k^2, sd_k = x_k U_k / 196,
-- which reduces to Eq. 3.1 for one product and to Eq. 3.2 for independent terms, and is exact
-- for a change SOC_REF x (F_2 - F_1) where Eq. 3.2 over separate terms is not.
-- Approach 2: seeded Monte Carlo drawing every distinct factor once per iteration: normal
-- (truncated at 0) where U <= 30 %, lognormal with the same mean and standard deviation where
-- U > 30 % (IPCC Vol. 1 §3.2.2.4); 2.5 and 97.5 percentiles of the total.
-- When any factor of a non-zero term is not quantified, every uncertainty output is null and
-- unquantified lists those factors: an unknown uncertainty is never counted as 0.
create or replace function ipcc.factor_uncertainty(terms jsonb, draws integer default 5000,
                                                   seed integer default 42)
returns table (total double precision, u_approach1_pct double precision,
               mc_mean double precision, p2_5 double precision, p97_5 double precision,
               unquantified text[])
language plpython3u immutable as $$
import json
import time
import numpy as np

# a cancellation point (as raster.np_kernels_loaded's check(), sql/030_kernels.sql): Python
# notices a statement_timeout or a cancel only when it calls into the server, so the loops
# below call check() about every million numbers they handle, and check() runs a prepared
# `select 1` at most every 0.5 s (small calls never reach it)
plan = SD.get('check') or SD.setdefault('check', plpy.prepare('select 1'))
due = [time.monotonic() + 0.5]
def check():
    if time.monotonic() >= due[0]:
        plpy.execute(plan)
        due[0] = time.monotonic() + 0.5

if draws is None or draws < 100 or draws > 1000000:
    plpy.error(f'mc_draws must be between 100 and 1000000, got {draws}')
items = json.loads(terms) if terms else []
index, values, upcts, missing = {}, [], [], []
coefs, members = [], []
for i, term in enumerate(items):
    if not i & 1023:
        check()
    idx = []
    for key, value, u in term['f']:
        key = str(key)
        if key not in index:
            index[key] = len(values)
            values.append(float(value))
            upcts.append(float('nan') if u is None else float(u))
        elif abs(values[index[key]] - float(value)) > 1e-9 * max(1.0, abs(float(value))):
            plpy.error(f'factor {key} has two values: {values[index[key]]} and {value}')
        idx.append(index[key])
    coefs.append(float(term['c']))
    members.append(idx)
v = np.array(values, dtype=float)
u = np.array(upcts, dtype=float)
c = np.array(coefs, dtype=float)
prods = np.array([np.prod(v[m]) if m else 1.0 for m in members])
tot = float(np.sum(c * prods))
# a term that is 0 (a zero coefficient or a zero factor) needs no uncertainty
used = sorted({k for m, ci, pr in zip(members, c, prods) if ci != 0 and pr != 0 for k in m})
missing = sorted(k for k in index if index[k] in used and np.isnan(u[index[k]]))
if missing or not items:
    return [(tot, None, None, None, None, missing)]
sd = v * u / 196.0
# a factor only in terms that are 0 is held at its value (its uncertainty, known or not,
# changes nothing)
sd[[k for k in range(v.size) if k not in set(used)]] = 0.0
u = np.where(np.isnan(u), 0.0, u)
# Approach 1: gradient of the total with respect to each factor
grad = np.zeros(v.size)
for i, (m, ci) in enumerate(zip(members, c)):
    if not i & 1023:
        check()
    for pos, k in enumerate(m):
        others = [j for q, j in enumerate(m) if q != pos]
        grad[k] += ci * (np.prod(v[others]) if others else 1.0)
u1 = float(196.0 * np.sqrt(np.sum((grad * sd) ** 2)) / abs(tot)) if tot != 0 else None
# Approach 2
rng = np.random.default_rng(seed)
x = np.empty((draws, v.size))
every = max(1, 1000000 // draws)                # loop steps between check() calls
for k in range(v.size):
    if not k % every:
        check()
    if sd[k] == 0 or v[k] == 0:
        x[:, k] = v[k]
    elif u[k] > 30.0 and v[k] > 0:
        s2 = np.log1p((sd[k] / v[k]) ** 2)
        x[:, k] = rng.lognormal(np.log(v[k]) - s2 / 2.0, np.sqrt(s2), draws)
    else:
        x[:, k] = np.clip(rng.normal(v[k], abs(sd[k]), draws), 0.0, None)
sims = np.zeros(draws)
for i, (m, ci) in enumerate(zip(members, c)):
    if not i % every:
        check()
    sims += ci * (np.prod(x[:, m], axis=1) if m else 1.0)
lo, hi = np.percentile(sims, [2.5, 97.5])
if not np.isfinite([lo, hi]).all():
    plpy.error('the Monte Carlo of a total gave a non-finite percentile')
return [(tot, u1, float(sims.mean()), float(lo), float(hi), [])]
$$;

comment on function ipcc.factor_uncertainty(jsonb, integer, integer) is
  'Approach 1 (first-order, shared factors) and seeded Monte Carlo (each factor drawn once per '
  'iteration; lognormal above 30 %) for a sum of products of factors';

-- a linear form is a jsonb object {quantity key: coefficient}; lin_combine(a, wa, b, wb) is
-- wa x a + wb x b (keys whose coefficient becomes 0 are left out)
create or replace function ipcc.lin_combine(a jsonb, wa double precision, b jsonb,
                                            wb double precision)
returns jsonb
language sql immutable parallel safe as $$
  select coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
  from (
    select k, sum(v) as v
    from (
      select key as k, value::text::float8 * wa as v from jsonb_each(coalesce(a, '{}'))
      union all
      select key, value::text::float8 * wb from jsonb_each(coalesce(b, '{}'))
    ) as parts
    group by k
    having sum(v) <> 0
  ) as summed
$$;

comment on function ipcc.lin_combine(jsonb, double precision, jsonb, double precision) is
  'wa x a + wb x b for linear forms {quantity key: coefficient} (zero coefficients dropped)';
