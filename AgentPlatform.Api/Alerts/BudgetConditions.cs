using System.Globalization;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Admin;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// The rules on budgets, over every key and tenant with one. Spend this period is read as the limiter
/// keeps it (<see cref="TenancyStore.ReadSpendAsync"/>), so what alerts is what refuses.
/// <list type="bullet">
/// <item><c>budget</c>: spend has reached one of the rule's thresholds — one alert per subject and
/// threshold, so 50%, 80% and 100% each notify once.</item>
/// <item><c>burn_rate</c>: at the rate of the last <c>windowSeconds</c> (from the usage ledger's hourly
/// roll-ups), the budget runs out within <c>withinHours</c> — and before its period ends and resets it.</item>
/// </list>
/// </summary>
public sealed class BudgetConditions(IConnectionMultiplexer redis, TenancyStore tenancy)
{
    private sealed record Subject(string Scope, string Id, Tenancy.Limits Limits, BudgetPeriod Period, decimal Spend)
    {
        public string Owner => Scope == "key" ? $"Key '{Limits.Name}' ({Id})" : $"Tenant '{Limits.Name}' ({Id})";

        public string Per => Limits.BudgetPeriod == BudgetPeriods.None ? "" : $" {Limits.BudgetPeriod}";

        public Dictionary<string, string> Labels() => new()
        {
            ["scope"] = Scope,
            [Scope == "key" ? "keyId" : "tenantId"] = Id,
            ["name"] = Limits.Name,
            ["period"] = Period.Id,
        };
    }

    public async Task AddAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        foreach (var subject in await ReadSubjectsAsync(now))
        {
            var share = subject.Spend / subject.Limits.BudgetUsd!.Value * 100;
            foreach (var threshold in rule.ThresholdsPercent.Where(t => share >= t))
            {
                var percent = threshold.ToString(CultureInfo.InvariantCulture);
                var labels = subject.Labels();
                labels["thresholdPercent"] = percent;
                holding.Hold(rule, $"{subject.Scope}|{subject.Id}|{percent}",
                    string.Create(CultureInfo.InvariantCulture,
                        $"{subject.Owner} has spent ${subject.Spend:0.######} of its ${subject.Limits.BudgetUsd:0.######}{subject.Per} budget ({share:0.#}%), past {threshold}%."),
                    labels, now);
            }
        }
    }

    public async Task AddBurnRatesAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        var subjects = await ReadSubjectsAsync(now);
        if (subjects.Count == 0)
        {
            return;
        }
        var window = rule.BurnWindow;
        var spentInWindow = await ReadRecentSpendAsync(now, window);
        foreach (var subject in subjects)
        {
            var recent = spentInWindow.GetValueOrDefault((subject.Scope, subject.Id));
            if (recent <= 0)
            {
                continue;
            }
            var perHour = recent / (decimal)window.TotalHours;
            var left = subject.Limits.BudgetUsd!.Value - subject.Spend;
            var runsOutAt = left <= 0 ? now : now.AddHours((double)(left / perHour));
            if (runsOutAt > now.AddHours(rule.EffectiveWithinHours) || (subject.Period.End is { } reset && runsOutAt >= reset))
            {
                continue; // not within the bound, or the period resets the budget first
            }
            var labels = subject.Labels();
            labels["perHourUsd"] = perHour.ToString("0.######", CultureInfo.InvariantCulture);
            holding.Hold(rule, $"{subject.Scope}|{subject.Id}",
                string.Create(CultureInfo.InvariantCulture,
                    $"{subject.Owner} is spending ${perHour:0.######}/h; at that rate its ${subject.Limits.BudgetUsd:0.######}{subject.Per} budget " +
                    $"(${subject.Spend:0.######} spent) runs out in {(runsOutAt - now).TotalHours:0.#} h, by {runsOutAt:yyyy-MM-dd HH:mm} UTC."),
                labels, now);
        }
    }

    /// <summary>Every key (not revoked) and tenant with a budget, with its spend this period.</summary>
    private async Task<List<Subject>> ReadSubjectsAsync(DateTimeOffset now)
    {
        var keys = (await tenancy.ListKeysAsync()).Where(k => k.RevokedAt is null && k.BudgetUsd > 0);
        var tenants = await tenancy.ListTenantsAsync();
        var budgeted = keys.Select(k => (Scope: "key", Limits: (Tenancy.Limits)k, k.Id))
            .Concat(tenants.Where(t => t.BudgetUsd > 0).Select(t => (Scope: "tenant", Limits: (Tenancy.Limits)t, t.Id)))
            .ToList();
        if (budgeted.Count == 0)
        {
            return [];
        }
        var spent = await tenancy.ReadSpendAsync(budgeted, now);
        return budgeted.Select((s, i) => new Subject(s.Scope, s.Id, s.Limits, spent[i].Period, BudgetPeriod.FromNanoUsd(spent[i].SpentNanoUsd))).ToList();
    }

    /// <summary>
    /// What each key and tenant spent over the <paramref name="window"/> before now, from the ledger's
    /// hourly roll-ups: each hour's spend counted by the share of it the window covers (spend taken as
    /// even within an hour; the current hour's over its elapsed part).
    /// </summary>
    private async Task<Dictionary<(string Scope, string Id), decimal>> ReadRecentSpendAsync(DateTimeOffset now, TimeSpan window)
    {
        var from = now - window;
        var hours = new List<(DateTimeOffset Start, double Share)>();
        for (var hour = UsageLedger.HourOf(now); hour + TimeSpan.FromHours(1) > from; hour -= TimeSpan.FromHours(1))
        {
            var end = hour == UsageLedger.HourOf(now) ? now : hour + TimeSpan.FromHours(1);
            var length = (end - hour).TotalSeconds;
            var covered = (end - (from > hour ? from : hour)).TotalSeconds;
            hours.Add((hour, length <= 0 ? 1 : Math.Clamp(covered / length, 0, 1)));
        }
        var batch = redis.GetDatabase().CreateBatch();
        var reads = hours.Select(h => batch.HashGetAllAsync(UsageLedger.HourlyKey(h.Start))).ToList();
        batch.Execute();
        var spend = new Dictionary<(string, string), decimal>();
        for (var i = 0; i < hours.Count; i++)
        {
            foreach (var entry in await reads[i])
            {
                if (!RollupField.TryParse((string)entry.Name!, out var field) || field.Measure != "cost_nano_usd")
                {
                    continue;
                }
                var usd = BudgetPeriod.FromNanoUsd((long)entry.Value) * (decimal)hours[i].Share;
                Add(spend, ("tenant", field.TenantId ?? "-"), usd);
                Add(spend, ("key", field.KeyId ?? "-"), usd);
            }
        }
        return spend;
    }

    private static void Add(Dictionary<(string, string), decimal> totals, (string, string) subject, decimal usd) =>
        totals[subject] = totals.GetValueOrDefault(subject) + usd;
}
