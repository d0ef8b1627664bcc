using System.Globalization;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// The budget period a moment falls in, in UTC: the day, the ISO week (from Monday), the calendar
/// month, or all time. Spend is counted per period under its own Redis key, so a budget resets on
/// schedule by itself: a new period starts at zero, and the old one's key expires.
/// </summary>
public readonly record struct BudgetPeriod(string Id, DateTimeOffset Start, DateTimeOffset? End)
{
    public static BudgetPeriod Current(string period, DateTimeOffset now)
    {
        var day = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        switch (period)
        {
            case BudgetPeriods.Daily:
                return new BudgetPeriod(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), day, day.AddDays(1));
            case BudgetPeriods.Weekly:
                var monday = day.AddDays(-(((int)day.DayOfWeek + 6) % 7));
                return new BudgetPeriod("w" + monday.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), monday, monday.AddDays(7));
            case BudgetPeriods.Monthly:
                var first = new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero);
                return new BudgetPeriod(first.ToString("yyyy-MM", CultureInfo.InvariantCulture), first, first.AddMonths(1));
            default:
                return new BudgetPeriod("all", DateTimeOffset.MinValue, null);
        }
    }

    /// <summary>The Redis key of a key's or tenant's spend in this period, in its tenant's slot (<see cref="TenantSlot"/>).</summary>
    public string SpendKey(Limits owner) => owner switch
    {
        VirtualKey key => $"{TenantSlot.Prefix(key.TenantId)}spend:key:{key.Id}:{Id}",
        Tenant tenant => $"{TenantSlot.Prefix(tenant.Id)}spend:tenant:{tenant.Id}:{Id}",
        _ => throw new ArgumentException("Spend is counted for a key or a tenant.", nameof(owner)),
    };

    /// <summary>Spend is kept in Redis as whole nano-dollars, so reservations and settlements add up exactly.</summary>
    public static long ToNanoUsd(decimal usd) => (long)Math.Ceiling(usd * 1_000_000_000m);

    public static decimal FromNanoUsd(long nano) => nano / 1_000_000_000m;
}
