using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Moves agent definitions written before their keys had a hash tag (<c>agentplatform:agents</c> and
/// <c>agentplatform:agents:&lt;name&gt;:versions</c>) to <see cref="AgentStore.Prefix"/> at start-up: the current
/// definitions merged (the new name's kept), each agent's versions moved whole — also a deleted agent's,
/// which its past runs still name. Runs and threads keep their names: each is one key, on any slot.
/// </summary>
public sealed class AgentKeyMigration(IConnectionMultiplexer redis, ILogger<AgentKeyMigration> logger) : KeyNameMigration(redis)
{
    private const string OldCurrent = "agentplatform:agents";

    protected override async Task MoveAsync(IDatabase database)
    {
        var moved = await KeyMoves.MergeHashAsync(database, OldCurrent, AgentStore.CurrentKey, counters: false) ? 1 : 0;
        await foreach (var old in KeyMoves.FindAsync(Redis, OldCurrent + ":*:versions"))
        {
            var name = ((string)old!)[(OldCurrent.Length + 1)..^":versions".Length];
            moved += await KeyMoves.MoveRecordAsync(database, old, AgentStore.VersionsKey(name)) ? 1 : 0;
        }
        if (moved > 0)
        {
            Log.AgentKeysMoved(logger, moved);
        }
    }
}
