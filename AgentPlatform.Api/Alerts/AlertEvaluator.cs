using AgentPlatform.Contracts.Admin;
using AgentPlatform.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// Evaluates the alert rules every <see cref="AlertOptions.EvaluationIntervalSeconds"/> on exactly one
/// Api replica at a time — the one holding a lease in Redis, renewed each round and taken over by
/// another replica within three rounds if its holder dies — so N replicas do not send N notifications.
/// The holder also delivers the notifications (<see cref="AlertNotifier"/>).
/// <para>
/// While Redis is away there is no lease, no shared state and no outbox; the replica that held the
/// lease when Redis went keeps deciding what it can see alone (Redis unreachable, its own spool),
/// notifies the webhooks directly, and records those alerts and deliveries once Redis is back — where
/// their resolves then go the usual way. The others stay silent, so one outage is one notification.
/// </para>
/// </summary>
public sealed class AlertEvaluator(
    AlertStore store, BudgetConditions budgets, DeploymentConditions deployments, ReplicaConditions replicas, AlertNotifier notifier,
    IConnectionMultiplexer redis, IOptions<AlertOptions> options, TimeProvider timeProvider, ILogger<AlertEvaluator> logger) : BackgroundService
{
    private static readonly RedisKey LeaseKey = AlertStore.Prefix + "evaluator";

    private const string LeaseScript = """
        -- KEYS[1] the lease; ARGV[1] this replica's token, ARGV[2] its lifetime (ms). 1: held (2: just taken), 0: another's
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end
        return 0
        """;

    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    private readonly string _token = Guid.NewGuid().ToString("N");
    private readonly AlertOptions _options = options.Value;
    private bool _seeded;

    /// <summary>The rules as last read from Redis: what is decided while it is away.</summary>
    private IReadOnlyList<AlertRule> _rules = [];

    /// <summary>The alerts firing after this replica's last round as evaluator: not notified again if Redis then goes.</summary>
    private IReadOnlySet<string> _firing = new HashSet<string>();

    /// <summary>Alerts fired while Redis was away, with their deliveries, until they are recorded in it.</summary>
    private readonly Dictionary<string, (Alert Alert, Task<List<AlertEvent>> Deliveries)> _decidedWithoutRedis = new(StringComparer.Ordinal);

    private long _rounds;

    /// <summary>Whether this replica evaluates the rules now.</summary>
    public bool IsLeading { get; private set; }

    /// <summary>Rounds this replica has finished, leading or not: that its evaluator is alive (and what tests wait on).</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }
        using var delivery = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var delivering = notifier.DeliverWhileAsync(() => IsLeading, delivery.Token);
        using var timer = new PeriodicTimer(_options.EvaluationInterval, timeProvider);
        try
        {
            do
            {
                await RoundAsync(stoppingToken);
                Interlocked.Increment(ref _rounds);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        IsLeading = false;
        await delivery.CancelAsync();
        await delivering;
        try
        {
            // Hands the lease on at once rather than letting it run out.
            await redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [LeaseKey], [_token]);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
        }
    }

    private async Task RoundAsync(CancellationToken stoppingToken)
    {
        var now = timeProvider.GetUtcNow();
        replicas.Observe(_rules, now);
        if (!redis.IsConnected)
        {
            // Known at once (the connection dropped), rather than after a command's timeout.
            RedisAway(now, stoppingToken);
            return;
        }
        try
        {
            await RecordDecidedWithoutRedisAsync();
            if (!_seeded)
            {
                await SeedAsync();
            }
            _rules = await store.ListRulesAsync();
            replicas.Observe(_rules, now);
            await replicas.PublishAsync(now);
            var leaseMs = (long)Math.Max(3 * _options.EvaluationInterval.TotalMilliseconds, 2000);
            var lease = (long)await redis.GetDatabase().ScriptEvaluateAsync(LeaseScript, [LeaseKey], [_token, leaseMs]);
            replicas.RedisReached();
            IsLeading = lease > 0;
            if (lease == 2)
            {
                Log.AlertEvaluatorLeading(logger);
                await SeedAsync(); // Redis may have come back empty
                await store.RequeueUnfinishedAsync();
            }
            if (IsLeading)
            {
                await EvaluateAsync(now);
            }
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
            // Nothing is decided on a failed read: no shared alert fires or resolves this round.
            // Never let it out: an exception leaving a background service stops the whole Api.
            Log.AlertEvaluationFailed(logger, exception);
            if (RedisFailure.Is(exception))
            {
                RedisAway(now, stoppingToken);
            }
        }
    }

    /// <param name="since">When the round that found Redis away began.</param>
    private void RedisAway(DateTimeOffset since, CancellationToken stoppingToken)
    {
        replicas.RedisFailed(since);
        if (IsLeading)
        {
            DecideWithoutRedis(timeProvider.GetUtcNow(), stoppingToken);
        }
    }

    private async Task SeedAsync()
    {
        await store.SeedAsync(_options.Rules.Count > 0 ? _options.Rules : DefaultRules);
        _seeded = true;
    }

    /// <summary>Fires, and notifies directly, what this replica can decide alone while Redis is away.</summary>
    private void DecideWithoutRedis(DateTimeOffset now, CancellationToken stoppingToken)
    {
        foreach (var (fingerprint, alert) in replicas.DecideWithoutRedis(_rules, now))
        {
            if (!_decidedWithoutRedis.ContainsKey(fingerprint) && !_firing.Contains(fingerprint))
            {
                _decidedWithoutRedis[fingerprint] = (alert, notifier.DeliverWithoutRedisAsync(alert, stoppingToken));
                Log.AlertFired(logger, alert.Rule, fingerprint);
            }
        }
    }

    /// <summary>Records in Redis, now it answers, the alerts fired without it whose deliveries are over.</summary>
    private async Task RecordDecidedWithoutRedisAsync()
    {
        foreach (var (fingerprint, (alert, deliveries)) in _decidedWithoutRedis.Where(d => d.Value.Deliveries.IsCompleted).ToList())
        {
            await store.RecordDecidedWithoutRedisAsync(alert, deliveries.IsCompletedSuccessfully ? deliveries.Result : []);
            _decidedWithoutRedis.Remove(fingerprint);
        }
    }

    /// <summary>One round: every enabled rule's conditions now, against the alerts firing; fires the new, resolves the ended.</summary>
    private async Task EvaluateAsync(DateTimeOffset now)
    {
        var holding = new Dictionary<string, Alert>(StringComparer.Ordinal);
        foreach (var rule in _rules)
        {
            if (!rule.Enabled)
            {
                continue;
            }
            switch (rule.Kind)
            {
                case AlertKinds.Budget:
                    await budgets.AddAsync(rule, now, holding);
                    break;
                case AlertKinds.ErrorRate or AlertKinds.LatencyP99:
                    await deployments.AddAsync(rule, now, holding);
                    break;
                case AlertKinds.BurnRate:
                    await budgets.AddBurnRatesAsync(rule, now, holding);
                    break;
                case AlertKinds.BreakerOpen:
                    await deployments.AddOpenBreakersAsync(rule, now, holding);
                    break;
                case AlertKinds.SpoolGrowing:
                    await replicas.AddSpoolsAsync(rule, now, holding);
                    break;
                // redis_unreachable: Redis has just answered, so it holds nowhere; it is decided in DecideWithoutRedis.
            }
        }
        var active = await store.ListActiveAsync();
        foreach (var alert in active.Where(a => !holding.ContainsKey(a.Fingerprint)))
        {
            if (await store.ResolveAsync(alert, now))
            {
                Log.AlertResolved(logger, alert.Rule, alert.Fingerprint);
            }
        }
        var firing = active.Select(a => a.Fingerprint).ToHashSet(StringComparer.Ordinal);
        foreach (var alert in holding.Values.Where(a => !firing.Contains(a.Fingerprint)))
        {
            if (await store.FireAsync(alert, now))
            {
                Log.AlertFired(logger, alert.Rule, alert.Fingerprint);
            }
        }
        _firing = holding.Keys.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The rules written when configuration names none: every budget at 50%, 80% and 100%; Redis
    /// unreachable for 30 s; a spool holding 1,000 records for a minute.
    /// </summary>
    public static readonly AlertRule[] DefaultRules =
    [
        new() { Name = "budget", Kind = AlertKinds.Budget, ThresholdsPercent = [50, 80, 100] },
        new() { Name = "redis", Kind = AlertKinds.RedisUnreachable },
        new() { Name = "spool", Kind = AlertKinds.SpoolGrowing },
    ];
}
