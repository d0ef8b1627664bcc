using System.Text.Json;
using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Router.Pool;

/// <summary>What an operator said when taking a deployment out of rotation by hand.</summary>
public sealed record DrainNote(DateTimeOffset At, string? Reason);

/// <summary>
/// Deployments taken out of rotation by hand (drained): no new request goes to them, requests in
/// flight finish. Kept in Redis, one hash field per deployment, so every Router replica honours a
/// drain made through any of them: a change is published and each replica re-reads the hash, as it
/// does when it starts, reconnects, or reloads its pool. A drain outlives restarts and reloads until
/// someone ends it.
/// </summary>
public sealed class DeploymentDrains(IConnectionMultiplexer redis, ModelPool pool, ILogger<DeploymentDrains> logger) : BackgroundService
{
    public static readonly RedisKey Key = "agentplatform:router:drained";
    public static readonly RedisChannel Channel = RedisChannel.Literal("agentplatform:router:drains");

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Drains <paramref name="deployment"/> on every replica; throws <see cref="RedisException"/> when Redis cannot record it.</summary>
    public async Task DrainAsync(Deployment deployment, DrainNote note)
    {
        await redis.GetDatabase().HashSetAsync(Key, Field(deployment.Group, deployment.Name), JsonSerializer.Serialize(note, JsonOptions));
        deployment.Drain = note;
        Log.DeploymentDrained(logger, deployment.Name, deployment.Group, note.Reason ?? "no reason given");
        await redis.GetSubscriber().PublishAsync(Channel, "changed");
    }

    /// <summary>Puts <paramref name="deployment"/> back into rotation on every replica.</summary>
    public async Task UndrainAsync(Deployment deployment)
    {
        await redis.GetDatabase().HashDeleteAsync(Key, Field(deployment.Group, deployment.Name));
        deployment.Drain = null;
        Log.DeploymentUndrained(logger, deployment.Name, deployment.Group);
        await redis.GetSubscriber().PublishAsync(Channel, "changed");
    }

    /// <summary>
    /// Reads the drains before the host goes on to start serving: a replica that starts after a drain
    /// must not send a single request to the drained deployment (it could, while the read was still on
    /// its way). The read after subscribing, below, catches a change made in between.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await LoadAsync();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var subscription = await redis.GetSubscriber().SubscribeAsync(Channel);
        subscription.OnMessage(async _ => await LoadAsync());
        redis.ConnectionRestored += async (_, _) => await LoadAsync();
        pool.Changed += async () => await LoadAsync();
        await LoadAsync();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, stoppingToken); // no timer: it ends when the service stops
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await subscription.UnsubscribeAsync();
        }
    }

    private async Task LoadAsync()
    {
        try
        {
            var stored = (await redis.GetDatabase().HashGetAllAsync(Key)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
            foreach (var deployment in pool.Groups.SelectMany(g => g.Deployments))
            {
                deployment.Drain = stored.TryGetValue(Field(deployment.Group, deployment.Name), out var json) ? Parse(json) : null;
            }
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
            // Also called from event handlers (async void): nothing may escape. What this replica knew stays.
            Log.DrainsNotLoaded(logger, exception);
        }
    }

    private static string Field(string group, string deployment) => $"{group}/{deployment}";

    private static DrainNote Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<DrainNote>(json, JsonOptions) ?? new DrainNote(DateTimeOffset.MinValue, null);
        }
        catch (JsonException)
        {
            return new DrainNote(DateTimeOffset.MinValue, null); // unreadable, but drained all the same
        }
    }
}
