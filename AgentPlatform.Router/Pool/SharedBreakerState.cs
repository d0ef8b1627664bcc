using System.Text.Json;
using AgentPlatform.Contracts.Telemetry;
using AgentPlatform.Redis;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Telemetry;
using StackExchange.Redis;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// Shares breaker decisions between Router replicas through Redis: an opened or closed breaker is
/// stored (an open one expiring with its break) and published; every replica adopts what it hears,
/// and reads the stored states when it starts or reconnects. So when one replica sees a deployment
/// die, the others stop sending to it within a pub/sub round trip rather than after failures of their own.
/// </summary>
public sealed class SharedBreakerState(
    IConnectionMultiplexer redis,
    ModelPool pool,
    CircuitBreakerEvents events,
    TimeProvider timeProvider,
    ILogger<SharedBreakerState> logger) : BackgroundService
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("agentplatform:router:breakers");

    /// <summary>Tells this replica's messages from the others' when they come back on the channel.</summary>
    private readonly string _replica = Guid.NewGuid().ToString("N");

    private static readonly RedisKey OpenSinceKey = DeploymentStatsKeys.BreakersOpenSinceKey;

    public static RedisKey Key(CircuitBreaker breaker) => $"agentplatform:router:breaker:{breaker.Group}/{breaker.Deployment}";

    /// <summary>
    /// Reads the stored states before the host goes on to start serving, so a replica that starts while
    /// a deployment's breaker is open elsewhere sends it nothing; the read after subscribing, below,
    /// catches a change made in between.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await LoadAsync();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var subscription = await redis.GetSubscriber().SubscribeAsync(Channel);
        subscription.OnMessage(message => Adopt(message.Message));
        redis.ConnectionRestored += async (_, _) => await LoadAsync();
        // Deployments a configuration reload adds may already be open on other replicas.
        pool.Changed += async () => await LoadAsync();
        await LoadAsync();

        try
        {
            await foreach (var (breaker, transition) in events.ToPublish.ReadAllAsync(stoppingToken))
            {
                await PublishAsync(breaker, transition);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await subscription.UnsubscribeAsync();
        }
    }

    private async Task PublishAsync(CircuitBreaker breaker, CircuitTransition transition)
    {
        var state = new SharedState(_replica, breaker.Group, breaker.Deployment, transition.To, transition.OpenUntil.ToUnixTimeMilliseconds(), transition.Breaks);
        var json = JsonSerializer.Serialize(state, SharedStateJson.Options);
        try
        {
            var database = redis.GetDatabase();
            // Also since when each breaker has been open (kept through its half-open probes, until it
            // closes), for the Api's breaker_open alert rule.
            var subject = DeploymentStatsKeys.Subject(breaker.Group, breaker.Deployment);
            if (transition.To == CircuitState.Open)
            {
                await database.HashSetAsync(OpenSinceKey, subject, timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), When.NotExists);
                var remaining = transition.OpenUntil - timeProvider.GetUtcNow();
                if (remaining > TimeSpan.Zero)
                {
                    await database.StringSetAsync(Key(breaker), json, remaining);
                }
            }
            else
            {
                if (transition.To == CircuitState.Closed)
                {
                    await database.HashDeleteAsync(OpenSinceKey, subject);
                }
                await database.KeyDeleteAsync(Key(breaker));
            }
            await redis.GetSubscriber().PublishAsync(Channel, json);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // The breaker still works on this replica; the others decide for themselves until Redis is back.
            Log.BreakerNotShared(logger, breaker.Deployment, breaker.Group, exception);
        }
    }

    private async Task LoadAsync()
    {
        try
        {
            var list = pool.Groups.SelectMany(g => g.Deployments).Select(d => d.Breaker).ToList();
            // One GET each, pipelined, not an MGET: on a Redis Cluster the breakers' keys are in different slots.
            var database = redis.GetDatabase();
            var values = await Task.WhenAll(list.Select(breaker => database.StringGetAsync(Key(breaker))));
            for (var i = 0; i < list.Count; i++)
            {
                if (values[i].HasValue && Parse(values[i]) is { } state)
                {
                    list[i].Adopt(state.State, DateTimeOffset.FromUnixTimeMilliseconds(state.OpenUntilMs), state.Breaks);
                }
            }
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
            // Also called from event handlers (async void): nothing may escape, or the process goes down.
            Log.BreakerStatesNotLoaded(logger, exception);
        }
    }

    private void Adopt(RedisValue message)
    {
        if (Parse(message) is { } state && state.Replica != _replica
            && pool.FindDeployment(state.Group, state.Deployment)?.Breaker is { } breaker)
        {
            breaker.Adopt(state.State, DateTimeOffset.FromUnixTimeMilliseconds(state.OpenUntilMs), state.Breaks);
        }
    }

    private static SharedState? Parse(RedisValue value)
    {
        try
        {
            return JsonSerializer.Deserialize<SharedState>((string)value!, SharedStateJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record SharedState(string Replica, string Group, string Deployment, CircuitState State, long OpenUntilMs, int Breaks);

    private static class SharedStateJson
    {
        public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
        {
            Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        };
    }
}
