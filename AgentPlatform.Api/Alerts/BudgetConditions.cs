using System.Globalization;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// The <c>budget</c> rule: every key and tenant with a budget whose spend this period has reached one
/// of the rule's thresholds — one alert per subject and threshold, so 50%, 80% and 100% each notify
/// once. Spend is read as the limiter keeps it (one <c>MGET</c> for all), so what alerts is what refuses.
/// </summary>
public sealed class BudgetConditions(IConnectionMultiplexer redis, TenancyStore tenancy)
{
    public async Task AddAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        var keys = (await tenancy.ListKeysAsync()).Where(k => k.RevokedAt is null && k.BudgetUsd > 0);
        var tenants = await tenancy.ListTenantsAsync();
        var subjects = keys.Select(k => (Scope: "key", k.Id, Limits: (Tenancy.Limits)k))
            .Concat(tenants.Where(t => t.BudgetUsd > 0).Select(t => (Scope: "tenant", t.Id, Limits: (Tenancy.Limits)t)))
            .Select(s => (s.Scope, s.Id, s.Limits, Period: BudgetPeriod.Current(s.Limits.BudgetPeriod, now)))
            .ToList();
        if (subjects.Count == 0)
        {
            return;
        }
        var spent = await redis.GetDatabase().StringGetAsync(subjects.Select(s => (RedisKey)s.Period.SpendKey(s.Scope, s.Id)).ToArray());
        for (var i = 0; i < subjects.Count; i++)
        {
            var (scope, id, limits, period) = subjects[i];
            var spend = BudgetPeriod.FromNanoUsd(spent[i].HasValue ? (long)spent[i] : 0);
            var share = spend / limits.BudgetUsd!.Value * 100;
            foreach (var threshold in rule.ThresholdsPercent.Where(t => share >= t))
            {
                var fingerprint = $"{rule.Name}|{scope}|{id}|{threshold.ToString(CultureInfo.InvariantCulture)}";
                var owner = scope == "key" ? $"Key '{limits.Name}' ({id})" : $"Tenant '{limits.Name}' ({id})";
                var per = limits.BudgetPeriod == BudgetPeriods.None ? "" : $" {limits.BudgetPeriod}";
                holding[fingerprint] = new Alert
                {
                    Fingerprint = fingerprint,
                    Rule = rule.Name,
                    Kind = rule.Kind,
                    Summary = string.Create(CultureInfo.InvariantCulture,
                        $"{owner} has spent ${spend:0.######} of its ${limits.BudgetUsd:0.######}{per} budget ({share:0.#}%), past {threshold}%."),
                    Labels = new()
                    {
                        ["scope"] = scope,
                        [scope == "key" ? "keyId" : "tenantId"] = id,
                        ["name"] = limits.Name,
                        ["thresholdPercent"] = threshold.ToString(CultureInfo.InvariantCulture),
                        ["period"] = period.Id,
                    },
                    StartsAt = now,
                };
            }
        }
    }
}
