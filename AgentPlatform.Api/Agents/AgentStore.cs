using System.Text.Json;
using AgentPlatform.Contracts.Admin;
using StackExchange.Redis;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Agent definitions in Redis: the current one of each agent in one hash (what runs use), and
/// every version of each in a list, oldest first, so a run's recorded version can always be looked up.
/// A save is one script that appends the version only if no other save took that number first.
/// </summary>
public sealed class AgentStore(IConnectionMultiplexer redis, TimeProvider timeProvider)
{
    // One hash slot ({agents}) for the definitions: a save changes the current one and the versions together.
    internal const string Prefix = "agentplatform:{agents}:";

    public static readonly RedisKey CurrentKey = Prefix + "current";

    public static RedisKey VersionsKey(string name) => $"{Prefix}{name}:versions";

    /// <summary>KEYS: current hash, versions list; ARGV: name, expected version count, JSON. Returns 1, or 0 when another save came first.</summary>
    private const string SaveScript = """
        if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[2]) then return 0 end
        redis.call('RPUSH', KEYS[2], ARGV[3])
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        return 1
        """;

    private IDatabase Database => redis.GetDatabase();

    public async Task<IReadOnlyList<AgentDefinition>> ListAsync() =>
        (await Database.HashValuesAsync(CurrentKey)).Select(v => Parse(v)!).OrderBy(a => a.Name, StringComparer.Ordinal).ToList();

    public async Task<AgentDefinition?> GetAsync(string name) => Parse(await Database.HashGetAsync(CurrentKey, name));

    public async Task<IReadOnlyList<AgentDefinition>> ListVersionsAsync(string name) =>
        (await Database.ListRangeAsync(VersionsKey(name))).Select(v => Parse(v)!).Reverse().ToList();

    public async Task<AgentDefinition?> GetVersionAsync(string name, int version) =>
        version < 1 ? null : Parse(await Database.ListGetByIndexAsync(VersionsKey(name), version - 1));

    /// <summary>Saves <paramref name="definition"/> as the agent's next version and returns it as stored.</summary>
    public async Task<AgentDefinition> SaveAsync(AgentDefinition definition)
    {
        while (true)
        {
            var versions = (int)await Database.ListLengthAsync(VersionsKey(definition.Name));
            var stored = definition with { Version = versions + 1, UpdatedAt = timeProvider.GetUtcNow() };
            var json = JsonSerializer.Serialize(stored, AgentDefinition.Json);
            if ((int)await Database.ScriptEvaluateAsync(SaveScript, [CurrentKey, VersionsKey(definition.Name)], [definition.Name, versions, json]) == 1)
            {
                return stored;
            }
            // Another save took that version number: count again.
        }
    }

    /// <summary>Removes the agent; its versions stay, so runs that used them can still be explained.</summary>
    public Task<bool> DeleteAsync(string name) => Database.HashDeleteAsync(CurrentKey, name);

    private static AgentDefinition? Parse(RedisValue value) =>
        value.HasValue ? JsonSerializer.Deserialize<AgentDefinition>((string)value!, AgentDefinition.Json) : null;
}
