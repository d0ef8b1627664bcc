using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// Evaluates the alert rules every <see cref="AlertOptions.EvaluationIntervalSeconds"/> on exactly one
/// Api replica at a time — the one holding a lease in Redis, renewed each round and taken over by
/// another replica within three rounds if its holder dies — so N replicas do not send N notifications.
/// The holder also delivers the notifications (<see cref="AlertNotifier"/>).
/// </summary>
public sealed class AlertEvaluator(
    AlertStore store, BudgetConditions budgets, DeploymentConditions deployments, AlertNotifier notifier, IConnectionMultiplexer redis,
    IOptions<AlertOptions> options, TimeProvider timeProvider, ILogger<AlertEvaluator> logger) : BackgroundService
{
    private static readonly RedisKey LeaseKey = "agentplatform:alerts:evaluator";

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

    /// <summary>Whether this replica evaluates the rules now.</summary>
    public bool IsLeading { get; private set; }

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
                await RoundAsync();
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
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
        }
    }

    private async Task RoundAsync()
    {
        try
        {
            if (!_seeded)
            {
                await store.SeedAsync(_options.Rules.Count > 0 ? _options.Rules : [DefaultBudgetRule]);
                _seeded = true;
            }
            var leaseMs = (long)Math.Max(3 * _options.EvaluationInterval.TotalMilliseconds, 2000);
            var lease = (long)await redis.GetDatabase().ScriptEvaluateAsync(LeaseScript, [LeaseKey], [_token, leaseMs]);
            IsLeading = lease > 0;
            if (lease == 2)
            {
                Log.AlertEvaluatorLeading(logger);
                await store.RequeueUnfinishedAsync();
            }
            if (IsLeading)
            {
                await EvaluateAsync();
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Nothing is decided on a failed read (Redis away, say): no alert fires or resolves this round.
            // Never let it out: an exception leaving a background service stops the whole Api.
            Log.AlertEvaluationFailed(logger, exception);
        }
    }

    /// <summary>One round: every enabled rule's conditions now, against the alerts firing; fires the new, resolves the ended.</summary>
    private async Task EvaluateAsync()
    {
        var now = timeProvider.GetUtcNow();
        var holding = new Dictionary<string, Alert>(StringComparer.Ordinal);
        foreach (var rule in await store.ListRulesAsync())
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
                case AlertKinds.BreakerOpen:
                    await deployments.AddOpenBreakersAsync(rule, now, holding);
                    break;
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
    }

    /// <summary>The rule written when configuration names none: every budget at 50%, 80% and 100%.</summary>
    public static readonly AlertRule DefaultBudgetRule = new() { Name = "budget", Kind = AlertKinds.Budget, ThresholdsPercent = [50, 80, 100] };
}
