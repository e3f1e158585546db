-- IPCC 2006 Guidelines Vol. 4 (AFOLU) equations used by the carbon models, as immutable SQL
-- functions (idempotent). Units as in the Guidelines: areas in ha, biomass in t d.m., carbon in
-- t C, rates per year. Tested against the Guidelines' worked examples (tests/test_ipcc.py).

-- Eq. 2.10: total biomass growth G_TOTAL = G_W x (1 + R)   [t d.m./ha/yr]
create or replace function ipcc.total_growth(g_w double precision, root_shoot double precision)
returns double precision language sql immutable strict parallel safe as
$$ select g_w * (1 + root_shoot) $$;

-- Eq. 2.9: annual increase in biomass carbon, dC_G = A x G_TOTAL x CF   [t C/yr]
create or replace function ipcc.biomass_gain(area_ha double precision, g_w double precision,
                                             root_shoot double precision,
                                             carbon_fraction double precision)
returns double precision language sql immutable strict parallel safe as
$$ select area_ha * ipcc.total_growth(g_w, root_shoot) * carbon_fraction $$;

-- Eq. 2.14: loss from disturbance, L = A_dist x B_W x (1 + R) x CF x f_d   [t C/yr]
create or replace function ipcc.disturbance_loss(area_ha double precision, b_w double precision,
                                                 root_shoot double precision,
                                                 carbon_fraction double precision,
                                                 fraction_lost double precision)
returns double precision language sql immutable strict parallel safe as
$$ select area_ha * b_w * (1 + root_shoot) * carbon_fraction * fraction_lost $$;

-- Eq. 2.25 (Tier 1): SOC = SOC_REF x F_LU x F_MG x F_I x A   [t C]
create or replace function ipcc.soc_stock(soc_ref double precision, f_lu double precision,
                                          f_mg double precision, f_i double precision,
                                          area_ha double precision)
returns double precision language sql immutable strict parallel safe as
$$ select soc_ref * f_lu * f_mg * f_i * area_ha $$;

-- Eq. 2.25: annual change of mineral-soil carbon over the transition period D (default 20 yr)
create or replace function ipcc.soc_change_per_year(soc_0 double precision,
                                                    soc_0_t double precision,
                                                    transition_years double precision default 20)
returns double precision language sql immutable strict parallel safe as
$$ select (soc_0 - soc_0_t) / transition_years $$;

-- Linear Tier 1 transition: SOC after t years of a change from soc_from to soc_to over D years
create or replace function ipcc.soc_after(soc_from double precision, soc_to double precision,
                                          years double precision,
                                          transition_years double precision default 20)
returns double precision language sql immutable strict parallel safe as
$$ select soc_from + (soc_to - soc_from) * least(greatest(years, 0) / transition_years, 1) $$;

-- Eq. 2.5: stock-difference change per year
create or replace function ipcc.stock_difference(c_t1 double precision, c_t2 double precision,
                                                 years double precision)
returns double precision language sql immutable strict parallel safe as
$$ select (c_t2 - c_t1) / years $$;

-- CO2 equivalent of a carbon stock change: removals (stock gains) are negative (IPCC sign)
create or replace function ipcc.co2e(carbon_change_t double precision)
returns double precision language sql immutable strict parallel safe as
$$ select -carbon_change_t * 44.0 / 12.0 $$;

-- Approach 1 (Vol. 1 Ch. 3, Eq. 3.1): uncertainty of a product, U = sqrt(sum U_i^2)   [%]
create or replace function ipcc.u_product(variadic u_pct double precision[])
returns double precision language sql immutable strict parallel safe as
$$ select sqrt(sum(u * u)) from unnest(u_pct) u $$;

-- Approach 1 (Eq. 3.2): uncertainty of a sum, U = sqrt(sum (U_i x_i)^2) / |sum x_i|   [%]
create or replace function ipcc.u_sum(x double precision[], u_pct double precision[])
returns double precision language sql immutable strict parallel safe as
$$ select sqrt(sum((ux.u * ux.x) ^ 2)) / nullif(abs(sum(ux.x)), 0)
   from unnest(x, u_pct) as ux(x, u) $$;

-- Approach 2 (Monte Carlo) for a total that is linear in uncertain factors:
-- total = sum_i coef_i x factor_i, factor_i ~ Normal(mean_i, sd_i) with sd_i = mean_i x U_i/196
-- (U = 95 % CI half-width in % of the mean), truncated at 0. Each factor is drawn once per
-- iteration, so a factor shared by several terms (the same density at t1 and t2) is fully
-- correlated across them. Seeded: the same inputs give the same percentiles.
create or replace function ipcc.monte_carlo_linear(coef double precision[],
                                                   mean double precision[],
                                                   u_pct double precision[],
                                                   draws integer default 10000,
                                                   seed integer default 42)
returns table (mc_mean double precision, p2_5 double precision, p97_5 double precision)
language plpython3u immutable as $$
import numpy as np
c = np.asarray(coef, dtype=float)
m = np.asarray(mean, dtype=float)
u = np.nan_to_num(np.asarray(u_pct, dtype=float))
if not (c.shape == m.shape == u.shape):
    plpy.error('coef, mean and u_pct must have the same length')
rng = np.random.default_rng(seed)
total = np.zeros(draws)
chunk = max(1, 2_000_000 // max(1, c.size))
for start in range(0, draws, chunk):
    k = min(chunk, draws - start)
    x = rng.normal(m, np.abs(m) * u / 196.0, size=(k, c.size))
    np.clip(x, 0, None, out=x)
    total[start:start + k] = x @ c
return [(float(total.mean()), float(np.percentile(total, 2.5)),
         float(np.percentile(total, 97.5)))]
$$;

-- Student-t quantile t(p, df): the value below which a Student-t variable with df degrees of
-- freedom lies with probability p (t(0.975, 4) = 2.776: the 95 % CI half-width of a mean of
-- n = 5 plots is t(0.975, n - 1) x s / sqrt(n)). Exact for df <= 1000: bisection on the
-- closed-form CDF of integer df (Abramowitz & Stegun 1964, 26.7.3 odd / 26.7.4 even df); above,
-- the Cornish-Fisher expansion A&S 26.7.5 around the normal quantile (error < 1e-12 there).
-- Null for df < 1 or p outside (0, 1). Tested against published table values
-- (tests/test_carbon.py).
create or replace function ipcc.t_quantile(p double precision, df integer)
returns double precision language plpython3u immutable strict as $$
import math
from statistics import NormalDist
if df < 1 or not 0.0 < p < 1.0:
    return None
if p == 0.5:
    return 0.0
sign, q = (1.0, p) if p > 0.5 else (-1.0, 1.0 - p)
if df > 1000:
    z = NormalDist().inv_cdf(q)
    g = ((z ** 3 + z) / 4,
         (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96,
         (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384,
         (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160)
    return sign * (z + sum(gi / df ** (i + 1) for i, gi in enumerate(g)))

def within(t):
    # A(t | df) = P(|T| <= t)
    th = math.atan(t / math.sqrt(df))
    c2 = math.cos(th) ** 2
    if df % 2 == 0:
        term = total = 1.0
        for k in range(2, df - 1, 2):
            term *= (k - 1) / k * c2
            total += term
        return math.sin(th) * total
    if df == 1:
        return 2.0 * th / math.pi
    term = total = math.cos(th)
    for k in range(3, df - 1, 2):
        term *= (k - 1) / k * c2
        total += term
    return 2.0 / math.pi * (th + math.sin(th) * total)

target = 2.0 * q - 1.0
lo, hi = 0.0, 2.0
while within(hi) < target:
    lo, hi = hi, hi * 2.0
for _ in range(200):
    mid = 0.5 * (lo + hi)
    if within(mid) < target:
        lo = mid
    else:
        hi = mid
    if hi - lo <= 1e-13 * hi:
        break
return sign * 0.5 * (lo + hi)
$$;
