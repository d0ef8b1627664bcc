using System.Globalization;
using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// Moves the usage ledger written before its keys had hash tags (<c>agentplatform:usage:records:&lt;hour&gt;</c>
/// …) to its day's slot (<see cref="UsageLedger.DaySlot"/>) before the Api serves, so an upgrade keeps the
/// retained records, roll-ups and timeline. Found by one SCAN of the node at each start (only on one node:
/// a cluster never held the old names); a key under both names — the hour of the upgrade — is merged:
/// roll-ups and timeline summed, records and request ids kept where the new name has them.
/// </summary>
public sealed class UsageKeyMigration(IConnectionMultiplexer redis, ILogger<UsageKeyMigration> logger) : KeyNameMigration(redis)
{
    private const string OldPrefix = "agentplatform:usage:";

    protected override async Task MoveAsync(IDatabase database)
    {
        var moved = 0;
        await foreach (var old in KeyMoves.FindAsync(Redis, OldPrefix + "*"))
        {
            if (NewName(old!) is { } to && await KeyMoves.MergeHashAsync(database, old, to.Name, to.Counters))
            {
                moved++;
            }
        }
        if (moved > 0)
        {
            Log.UsageKeysMoved(logger, moved);
        }
    }

    /// <summary>
    /// The tagged name of an old ledger key (<c>agentplatform:usage:&lt;kind&gt;:&lt;stamp&gt;</c>, the stamp a day,
    /// hour or minute) and whether its fields are counters; null for a name the ledger never wrote.
    /// </summary>
    internal static (RedisKey Name, bool Counters)? NewName(string old)
    {
        var at = old.LastIndexOf(':');
        if (!old.StartsWith(OldPrefix, StringComparison.Ordinal) || at < OldPrefix.Length
            || !DateTime.TryParseExact(old[(at + 1)..], ["yyyyMMdd", "yyyyMMddHH", "yyyyMMddHHmm"], CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var stamp))
        {
            return null;
        }
        var time = new DateTimeOffset(stamp, TimeSpan.Zero);
        return old[OldPrefix.Length..at] switch
        {
            "records" => (UsageLedger.RecordsKey(time), false),
            "requestids" => (UsageLedger.RequestIdsKey(time), false),
            "hourly" => (UsageLedger.HourlyKey(time), true),
            "daily" => (UsageLedger.DailyKey(time), true),
            "timeline:m" => (UsageTimeline.MinuteKey(time), true),
            "timeline:h" => (UsageTimeline.HourKey(time), true),
            _ => null,
        };
    }
}
