using StackExchange.Redis;

namespace AgentPlatform.Redis;

/// <summary>
/// Moves a key written under a name of before the hash tags (<c>agentplatform:tenant:…</c>) to its
/// tagged name, at start-up, so that an upgrade loses nothing. Each move is one script on the old and
/// the new name together, which only a single Redis (or Garnet) runs: a cluster never held the old
/// names, as the versions that wrote them did not run on one (<see cref="MayHoldOldNames"/>). Every move
/// is safe to run again, and beside replicas already writing the new names.
/// </summary>
public static class KeyMoves
{
    /// <summary>Whether the old, untagged names can exist here: on one node, not on a cluster.</summary>
    public static bool MayHoldOldNames(IConnectionMultiplexer redis) => RedisTopology.IsOneNode(redis);

    /// <summary>The keys whose names match <paramref name="pattern"/>, by a SCAN of the one node (only called where <see cref="MayHoldOldNames"/>).</summary>
    public static async IAsyncEnumerable<RedisKey> FindAsync(IConnectionMultiplexer redis, RedisValue pattern)
    {
        foreach (var server in redis.GetServers().Where(server => !server.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000))
            {
                yield return key;
            }
        }
    }

    private const string RecordScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) else redis.call('RENAME', KEYS[1], KEYS[2]) end
        return 1
        """;

    private const string CounterScript = """
        local old = redis.call('GET', KEYS[1])
        if not old then return 0 end
        local ttl = redis.call('PTTL', KEYS[1])
        redis.call('INCRBY', KEYS[2], old)
        if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    private const string HashScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RENAME', KEYS[1], KEYS[2]) return 1 end
        local ttl, entries = redis.call('PTTL', KEYS[1]), redis.call('HGETALL', KEYS[1])
        for i = 1, #entries, 2 do
          if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[2], entries[i], entries[i + 1])
          else redis.call('HSETNX', KEYS[2], entries[i], entries[i + 1]) end
        end
        if ttl > 0 and redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
        redis.call('DEL', KEYS[1])
        return 1
        """;

    private const string SetScript = """
        redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
        return redis.call('DEL', KEYS[1])
        """;

    // The old entries are older than any under the new name: they go after them (the list is newest first).
    private const string ListScript = """
        local old = redis.call('LRANGE', KEYS[1], 0, -1)
        for i = 1, #old do redis.call('RPUSH', KEYS[2], old[i]) end
        if tonumber(ARGV[1]) > 0 then redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1) end
        return redis.call('DEL', KEYS[1])
        """;

    /// <summary>A record (any type) found under both names keeps the new one. True if the old name held one.</summary>
    public static async Task<bool> MoveRecordAsync(IDatabaseAsync database, RedisKey from, RedisKey to) =>
        (long)await database.ScriptEvaluateAsync(RecordScript, [from, to]) == 1;

    /// <summary>
    /// A counter (INCRBY) found under both names is summed into the new one, so that what replicas counted
    /// under either name is all kept; the new one takes the old one's expiry. True if the old name held one.
    /// </summary>
    public static async Task<bool> MoveCounterAsync(IDatabaseAsync database, RedisKey from, RedisKey to) =>
        (long)await database.ScriptEvaluateAsync(CounterScript, [from, to]) == 1;

    /// <summary>
    /// A hash is merged into the new one: field by field, summed when its fields are <paramref name="counters"/>
    /// (HINCRBY), else the new name's field kept. True if the old name held one.
    /// </summary>
    public static async Task<bool> MergeHashAsync(IDatabaseAsync database, RedisKey from, RedisKey to, bool counters) =>
        (long)await database.ScriptEvaluateAsync(HashScript, [from, to], [counters ? 1 : 0]) == 1;

    /// <summary>A set is merged into the new one. True if the old name held one.</summary>
    public static async Task<bool> MergeSetAsync(IDatabaseAsync database, RedisKey from, RedisKey to) =>
        (long)await database.ScriptEvaluateAsync(SetScript, [from, to]) == 1;

    /// <summary>
    /// A list is appended to the new one, whose <paramref name="newest"/> entries are kept (0: all): its entries are
    /// older, so they go after a list kept newest first, and are taken first from a queue taken from the right.
    /// True if the old name held one.
    /// </summary>
    public static async Task<bool> MergeListAsync(IDatabaseAsync database, RedisKey from, RedisKey to, int newest = 0) =>
        (long)await database.ScriptEvaluateAsync(ListScript, [from, to], [newest]) == 1;
}
