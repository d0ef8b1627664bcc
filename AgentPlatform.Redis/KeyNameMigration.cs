using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AgentPlatform.Redis;

/// <summary>
/// A store's move of its keys from the names of before the hash tags to the tagged ones, run at start-up
/// before the service serves (a hosted service registered ahead of those that use the store), and only
/// where the old names can be (<see cref="KeyMoves.MayHoldOldNames"/>). Each move is safe to run again and
/// beside replicas already upgraded.
/// </summary>
public abstract class KeyNameMigration(IConnectionMultiplexer redis) : IHostedService
{
    protected IConnectionMultiplexer Redis => redis;

    /// <summary>Moves what it finds under the old names (and logs what it moved).</summary>
    protected abstract Task MoveAsync(IDatabase database);

    public Task StartAsync(CancellationToken cancellationToken) =>
        KeyMoves.MayHoldOldNames(redis) ? MoveAsync(redis.GetDatabase()) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
