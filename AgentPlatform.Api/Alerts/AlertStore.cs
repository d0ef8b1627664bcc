using System.Text.Json;
using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// Alerting's state in Redis, shared by every Api replica: the rules, the alerts firing now, the
/// history, and an outbox of notifications still to deliver.
/// </summary>
/// <remarks>
/// Firing and resolving are each one script that changes the alert's state only if it is not already
/// so, and in the same step adds the history entry and the notification — so an alert notifies once
/// per start and once per end, even if two replicas evaluated at once (a lease hand-over).
/// </remarks>
public sealed class AlertStore(IConnectionMultiplexer redis, IOptions<AlertOptions> options)
{
    // One hash slot ({alerts}) for all of alerting: a transition changes the active alerts, the history and
    // the outbox in one script, and a notification moves between the outbox and the sending list, which a
    // Redis Cluster does only within one slot. Alerting is a few commands per evaluation, never per request.
    internal const string Prefix = "agentplatform:{alerts}:";
    public static readonly RedisKey RulesKey = Prefix + "rules";
    public static readonly RedisKey ActiveKey = Prefix + "active";
    public static readonly RedisKey HistoryKey = Prefix + "history";
    public static readonly RedisKey OutboxKey = Prefix + "outbox";
    public static readonly RedisKey SendingKey = Prefix + "sending";
    public static readonly RedisKey ReplicasKey = Prefix + "replicas";

    private const string TransitionScript = """
        -- KEYS: active, history, outbox; ARGV: 'fire' or 'resolve', fingerprint, alert JSON, history entry JSON, history limit
        local changed
        if ARGV[1] == 'fire' then
          changed = redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
        else
          changed = redis.call('HDEL', KEYS[1], ARGV[2])
        end
        if changed == 1 then
          redis.call('LPUSH', KEYS[2], ARGV[4])
          redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
          redis.call('LPUSH', KEYS[3], ARGV[3])
        end
        return changed
        """;

    private const string RecordDecidedScript = """
        -- KEYS: active, history; ARGV: fingerprint, alert JSON, history limit, then the history entries, oldest first
        local changed = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
        if changed == 1 then
          for i = 4, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
          redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
        end
        return changed
        """;

    private IDatabase Database => redis.GetDatabase();

    public async Task<IReadOnlyList<AlertRule>> ListRulesAsync() =>
        (await Database.HashValuesAsync(RulesKey))
            .Select(value => JsonSerializer.Deserialize((string)value!, AlertJsonContext.Default.AlertRule)!)
            .OrderBy(rule => rule.Name, StringComparer.Ordinal)
            .ToList();

    public async Task<AlertRule?> GetRuleAsync(string name) =>
        await Database.HashGetAsync(RulesKey, name) is { HasValue: true } value
            ? JsonSerializer.Deserialize((string)value!, AlertJsonContext.Default.AlertRule)
            : null;

    public Task SaveRuleAsync(AlertRule rule) =>
        Database.HashSetAsync(RulesKey, rule.Name, JsonSerializer.Serialize(rule, AlertJsonContext.Default.AlertRule));

    public Task<bool> DeleteRuleAsync(string name) => Database.HashDeleteAsync(RulesKey, name);

    /// <summary>Writes each rule unless one of its name is there already (the admin API's edits win over configuration).</summary>
    public async Task SeedAsync(IEnumerable<AlertRule> rules)
    {
        foreach (var rule in rules)
        {
            await Database.HashSetAsync(RulesKey, rule.Name, JsonSerializer.Serialize(rule, AlertJsonContext.Default.AlertRule), When.NotExists);
        }
    }

    public async Task<IReadOnlyList<Alert>> ListActiveAsync() =>
        (await Database.HashValuesAsync(ActiveKey))
            .Select(value => JsonSerializer.Deserialize((string)value!, AlertJsonContext.Default.Alert)!)
            .OrderBy(alert => alert.StartsAt)
            .ToList();

    /// <summary>Records the alert as firing, unless it already is; true when it was not (and its notification is queued).</summary>
    public Task<bool> FireAsync(Alert alert, DateTimeOffset now) => TransitionAsync("fire", alert, "fired", now);

    /// <summary>Records the alert as over, unless it already was; true when it was firing (and its notification is queued).</summary>
    public Task<bool> ResolveAsync(Alert alert, DateTimeOffset now) =>
        TransitionAsync("resolve", alert with { Status = AlertStatus.Resolved, EndsAt = now }, "resolved", now);

    private async Task<bool> TransitionAsync(string action, Alert alert, string eventName, DateTimeOffset now)
    {
        var entry = new AlertEvent { At = now, Event = eventName, Fingerprint = alert.Fingerprint, Rule = alert.Rule, Summary = alert.Summary };
        var changed = await Database.ScriptEvaluateAsync(TransitionScript, [ActiveKey, HistoryKey, OutboxKey],
        [
            action, alert.Fingerprint, JsonSerializer.Serialize(alert, AlertJsonContext.Default.Alert),
            JsonSerializer.Serialize(entry, AlertJsonContext.Default.AlertEvent), options.Value.HistoryLimit,
        ]);
        return (long)changed == 1;
    }

    /// <summary>
    /// Records an alert that fired — and was notified — while Redis was away: firing, with its history
    /// (fired, then each delivery), and nothing to send, as it has been sent. Its resolve then goes the
    /// usual way. Does nothing if it is already recorded.
    /// </summary>
    public async Task RecordDecidedWithoutRedisAsync(Alert alert, IEnumerable<AlertEvent> deliveries)
    {
        var fired = new AlertEvent { At = alert.StartsAt, Event = "fired", Fingerprint = alert.Fingerprint, Rule = alert.Rule, Summary = alert.Summary };
        await Database.ScriptEvaluateAsync(RecordDecidedScript, [ActiveKey, HistoryKey],
        [
            alert.Fingerprint, JsonSerializer.Serialize(alert, AlertJsonContext.Default.Alert), options.Value.HistoryLimit,
            .. new[] { fired }.Concat(deliveries).Select(e => (RedisValue)JsonSerializer.Serialize(e, AlertJsonContext.Default.AlertEvent)),
        ]);
    }

    public Task PublishReplicaAsync(string replica, ReplicaReport report) =>
        Database.HashSetAsync(ReplicasKey, replica, JsonSerializer.Serialize(report, AlertJsonContext.Default.ReplicaReport));

    public async Task<IReadOnlyList<(string Replica, ReplicaReport Report)>> ReadReplicasAsync() =>
        (await Database.HashGetAllAsync(ReplicasKey))
            .Select(entry => ((string)entry.Name!, JsonSerializer.Deserialize((string)entry.Value!, AlertJsonContext.Default.ReplicaReport)!))
            .ToList();

    public Task ForgetReplicaAsync(string replica) => Database.HashDeleteAsync(ReplicasKey, replica);

    public async Task RecordAsync(AlertEvent entry)
    {
        var batch = Database.CreateBatch();
        var push = batch.ListLeftPushAsync(HistoryKey, JsonSerializer.Serialize(entry, AlertJsonContext.Default.AlertEvent));
        var trim = batch.ListTrimAsync(HistoryKey, 0, options.Value.HistoryLimit - 1);
        batch.Execute();
        await Task.WhenAll(push, trim);
    }

    /// <summary>The newest <paramref name="limit"/> history entries, newest first.</summary>
    public async Task<IReadOnlyList<AlertEvent>> ReadHistoryAsync(int limit) =>
        (await Database.ListRangeAsync(HistoryKey, 0, limit - 1))
            .Select(value => JsonSerializer.Deserialize((string)value!, AlertJsonContext.Default.AlertEvent)!)
            .ToList();

    /// <summary>Takes the oldest notification to deliver, moving it aside until it is done (null when there is none).</summary>
    public async Task<string?> TakeNotificationAsync() =>
        await Database.ListMoveAsync(OutboxKey, SendingKey, ListSide.Right, ListSide.Left) is { HasValue: true } value ? (string)value! : null;

    public Task FinishNotificationAsync(string notification) => Database.ListRemoveAsync(SendingKey, notification, 1);

    /// <summary>Puts back notifications a replica took and never finished (it died while delivering): at least once, not at most.</summary>
    public async Task RequeueUnfinishedAsync()
    {
        while (await Database.ListMoveAsync(SendingKey, OutboxKey, ListSide.Right, ListSide.Right) is { HasValue: true })
        {
        }
    }
}
