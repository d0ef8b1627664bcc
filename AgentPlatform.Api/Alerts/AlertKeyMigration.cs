using AgentPlatform.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// Moves alerting's state written before its keys had a hash tag (<c>agentplatform:alerts:rules</c> …) to
/// <see cref="AlertStore.Prefix"/> at start-up: rules and the alerts firing are merged field by field (the
/// new name's kept), the history and the notifications still to deliver appended after the new ones (they
/// are older). The evaluator's lease is not moved: it lapses in seconds.
/// </summary>
public sealed class AlertKeyMigration(IConnectionMultiplexer redis, IOptions<AlertOptions> options, ILogger<AlertKeyMigration> logger)
    : KeyNameMigration(redis)
{
    private const string OldPrefix = "agentplatform:alerts:";

    protected override async Task MoveAsync(IDatabase database)
    {
        var moved = 0;
        foreach (var hash in new[] { AlertStore.RulesKey, AlertStore.ActiveKey, AlertStore.ReplicasKey })
        {
            moved += await KeyMoves.MergeHashAsync(database, Old(hash), hash, counters: false) ? 1 : 0;
        }
        foreach (var list in new[] { AlertStore.HistoryKey, AlertStore.OutboxKey, AlertStore.SendingKey })
        {
            var newest = list == AlertStore.HistoryKey ? options.Value.HistoryLimit : 0;
            moved += await KeyMoves.MergeListAsync(database, Old(list), list, newest) ? 1 : 0;
        }
        if (moved > 0)
        {
            Log.AlertKeysMoved(logger, moved);
        }
    }

    private static RedisKey Old(RedisKey key) => OldPrefix + ((string)key!)[AlertStore.Prefix.Length..];
}
