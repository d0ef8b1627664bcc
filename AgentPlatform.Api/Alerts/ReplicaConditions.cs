using System.Globalization;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// The rules on what each replica sees of itself: <c>spool_growing</c> (its usage spool held at or
/// over a number of records for a while) and <c>redis_unreachable</c>. Every replica tracks both and,
/// while Redis is there, reports its spool each round for the evaluating replica to read. While Redis
/// is away nothing can be shared, so the replica that was evaluating when it went decides both rules
/// alone, from what it sees itself (see <see cref="AlertEvaluator"/>).
/// </summary>
public sealed class ReplicaConditions(AlertStore store, UsageLedger ledger, IOptions<AlertOptions> options)
{
    /// <summary>This replica, as alerts name it: host, process id, and a few characters of its own (two Apis may share a process, as in tests).</summary>
    public string Replica { get; } = $"{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}:{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>A report older than this is a replica that stopped (or cannot reach Redis): it decides nothing.</summary>
    private readonly TimeSpan _fresh = TimeSpan.FromTicks(Math.Max(3 * options.Value.EvaluationInterval.Ticks, TimeSpan.FromSeconds(30).Ticks));

    /// <summary>A report this old is forgotten.</summary>
    private static readonly TimeSpan Forgotten = TimeSpan.FromMinutes(10);

    private readonly Dictionary<string, DateTimeOffset> _spoolOverSince = new(StringComparer.Ordinal);

    /// <summary>Since when this replica has failed to reach Redis; null while it reaches it.</summary>
    public DateTimeOffset? RedisAwaySince { get; private set; }

    public void RedisFailed(DateTimeOffset now) => RedisAwaySince ??= now;

    public void RedisReached() => RedisAwaySince = null;

    /// <summary>Notes, per <c>spool_growing</c> rule, whether this replica's spool is at or over its threshold now, and since when.</summary>
    public void Observe(IEnumerable<AlertRule> rules, DateTimeOffset now)
    {
        var depth = ledger.SpoolDepth;
        var spoolRules = rules.Where(r => r.Enabled && r.Kind == AlertKinds.SpoolGrowing).ToList();
        foreach (var gone in _spoolOverSince.Keys.Where(name => !spoolRules.Any(r => r.Name == name)).ToList())
        {
            _spoolOverSince.Remove(gone);
        }
        foreach (var rule in spoolRules)
        {
            if (depth < rule.EffectiveThresholdRecords)
            {
                _spoolOverSince.Remove(rule.Name);
            }
            else
            {
                _spoolOverSince.TryAdd(rule.Name, now);
            }
        }
    }

    /// <summary>Reports this replica's spool as it is now (after <see cref="Observe"/>).</summary>
    public Task PublishAsync(DateTimeOffset now) => store.PublishReplicaAsync(Replica, new ReplicaReport
    {
        At = now,
        SpoolDepth = ledger.SpoolDepth,
        SpoolOverSince = new(_spoolOverSince),
    });

    /// <summary>The <c>spool_growing</c> rule over every replica's latest report.</summary>
    public async Task AddSpoolsAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        foreach (var (replica, report) in await store.ReadReplicasAsync())
        {
            if (now - report.At > Forgotten)
            {
                await store.ForgetReplicaAsync(replica);
            }
            else if (now - report.At <= _fresh && report.SpoolOverSince.TryGetValue(rule.Name, out var since) && now - since >= rule.For)
            {
                AddSpool(rule, replica, report.SpoolDepth, since, now, holding);
            }
        }
    }

    /// <summary>
    /// What this replica alone can decide while Redis is away: Redis unreachable for the rule's time,
    /// and its own spool over the threshold for the rule's time.
    /// </summary>
    public Dictionary<string, Alert> DecideWithoutRedis(IEnumerable<AlertRule> rules, DateTimeOffset now)
    {
        var holding = new Dictionary<string, Alert>(StringComparer.Ordinal);
        foreach (var rule in rules.Where(r => r.Enabled))
        {
            if (rule.Kind == AlertKinds.RedisUnreachable && RedisAwaySince is { } away && now - away >= rule.For)
            {
                holding.Hold(rule, "redis",
                    string.Create(CultureInfo.InvariantCulture,
                        $"Redis has been unreachable since {away:yyyy-MM-dd HH:mm:ss} UTC: requests are refused (limits cannot be checked) and usage records wait in the replicas' spools."),
                    new() { ["replica"] = Replica }, now);
            }
            else if (rule.Kind == AlertKinds.SpoolGrowing && _spoolOverSince.TryGetValue(rule.Name, out var since) && now - since >= rule.For)
            {
                AddSpool(rule, Replica, ledger.SpoolDepth, since, now, holding);
            }
        }
        return holding;
    }

    private static void AddSpool(AlertRule rule, string replica, int depth, DateTimeOffset since, DateTimeOffset now, Dictionary<string, Alert> holding) =>
        holding.Hold(rule, $"replica|{replica}",
            string.Create(CultureInfo.InvariantCulture,
                $"Replica {replica} has held at least {rule.EffectiveThresholdRecords} usage records in its spool since {since:HH:mm:ss} UTC ({depth} now): they are not reaching Redis."),
            new() { ["replica"] = replica, ["spoolDepth"] = depth.ToString(CultureInfo.InvariantCulture) }, now);
}
