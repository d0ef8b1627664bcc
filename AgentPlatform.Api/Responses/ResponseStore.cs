using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Api.Tenancy;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Responses;

/// <summary>A stored response: the response object as the client got it, the input of its own turn, and the response it continued.</summary>
public sealed record StoredResponse(JsonObject Response, JsonArray Input, string? PreviousId);

/// <summary>One turn of a conversation as stored: what was sent in it, and the response it got.</summary>
public readonly record struct ConversationTurn(JsonArray Input, JsonObject Response);

/// <summary>What a walk up a conversation found: its turns, oldest first, and what its owner stores in all.</summary>
public sealed record Conversation(ConversationWalk Outcome, string? At, IReadOnlyList<ConversationTurn> Turns, long OwnerStoredBytes);

public enum ConversationWalk
{
    Found,
    /// <summary>A response of the chain is not stored (never was, deleted, or expired); <see cref="Conversation.At"/> names it.</summary>
    Missing,
    /// <summary>The chain holds more than the walk may read.</summary>
    TooLarge,
}

/// <summary>
/// The Responses API's stored responses, in Redis under their owner's prefix (a tenant's slot, so a cluster keeps
/// them beside the tenant's limits and one script can walk them), each kept <see cref="ApiOptions.ResponsesTtlDays"/>.
/// A response is stored with only its own turn's input and the id of the response it continued, so a conversation
/// of n turns takes n turns' bytes, not n²/2: continuing it walks the chain back in one script, which also keeps
/// every response of the chain alive as long as the newest. What an owner stores in all is counted (expired
/// responses subtracted as they go), for <see cref="ApiOptions.ResponsesMaxStoredBytes"/>. An id is only ever
/// read within its owner's prefix: no tenant can read, chain from or delete another's.
/// </summary>
public sealed class ResponseStore(IConnectionMultiplexer redis, IOptions<ApiOptions> options, TimeProvider timeProvider)
{
    private readonly long _ttlMs = (long)TimeSpan.FromDays(options.Value.ResponsesTtlDays).TotalMilliseconds;

    /// <summary>The most turns one walk follows: far past any real conversation, a bound for a provider that reuses ids.</summary>
    private const int MaxTurns = 10_000;

    /// <summary>Whose responses a client sees: its tenant's, or the master key's own.</summary>
    public static string OwnerOf(Access.ClientIdentity client) => client.Tenant?.Id ?? "master";

    private static string Prefix(string owner) => TenantSlot.Prefix(owner);

    private static RedisKey Entry(string owner, string id) => $"{Prefix(owner)}response:{id}";

    /// <summary>Where the build before the chained format kept a response with its whole conversation (read, never written).</summary>
    private static RedisKey Legacy(string owner, string id) => $"{Prefix(owner)}responses:{id}";

    /// <summary>The owner's bookkeeping: stored ids by expiry, their sizes, and the sum.</summary>
    private static RedisKey[] Books(string owner) =>
        [$"{Prefix(owner)}responsestore:index", $"{Prefix(owner)}responsestore:sizes", $"{Prefix(owner)}responsestore:bytes"];

    // Forgets the responses whose time is up (a hundred at most per call: the rest at the next ones) in the sum.
    private const string Purge = """
        local index, sizes, total = KEYS[1], KEYS[2], KEYS[3]
        local function purge(now)
            local expired = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, 100)
            for _, id in ipairs(expired) do
                local size = redis.call('HGET', sizes, id)
                redis.call('HDEL', sizes, id)
                redis.call('ZREM', index, id)
                if size then redis.call('DECRBY', total, size) end
            end
        end
        """;

    // KEYS: books; ARGV: entry prefix, legacy prefix, id to start from ('' for none), now ms, ttl ms, max bytes, max turns.
    // The entries walked are not in KEYS: each is named from its successor, all under the owner's hash tag, so one slot.
    private const string WalkScript = Purge + """

        local now, ttl, maxBytes, maxTurns = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        purge(now)
        local result = { 'found', '', redis.call('GET', total) or '0' }
        local id, bytes, turns = ARGV[3], 0, 0
        while id ~= '' do
            turns = turns + 1
            if turns > maxTurns then return { 'too_large', id } end
            local entry = ARGV[1] .. id
            local stored = redis.call('HMGET', entry, 'response', 'input', 'previous')
            if not stored[1] then
                local legacy = redis.call('GET', ARGV[2] .. id)
                if not legacy then return { 'missing', id } end
                if bytes + #legacy > maxBytes then return { 'too_large', id } end
                result[#result + 1] = ''
                result[#result + 1] = legacy
                break
            end
            bytes = bytes + #stored[1] + #stored[2]
            if bytes > maxBytes then return { 'too_large', id } end
            redis.call('PEXPIRE', entry, ttl)
            redis.call('ZADD', index, 'XX', now + ttl, id)
            result[#result + 1] = stored[2]
            result[#result + 1] = stored[1]
            id = stored[3] or ''
        end
        return result
        """;

    // KEYS: books, entry; ARGV: id, response, input, previous, now ms, ttl ms. Returns the owner's new sum.
    private const string SaveScript = Purge + """

        local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
        purge(now)
        local size = #ARGV[2] + #ARGV[3]
        local replaced = tonumber(redis.call('HGET', sizes, ARGV[1]) or '0')
        redis.call('HSET', KEYS[4], 'response', ARGV[2], 'input', ARGV[3], 'previous', ARGV[4])
        redis.call('PEXPIRE', KEYS[4], ttl)
        redis.call('ZADD', index, now + ttl, ARGV[1])
        redis.call('HSET', sizes, ARGV[1], size)
        local sum = redis.call('INCRBY', total, size - replaced)
        for _, key in ipairs({ index, sizes, total }) do redis.call('PEXPIRE', key, ttl) end
        return sum
        """;

    // KEYS: books, entry, legacy entry; ARGV: id. Returns how many were deleted.
    private const string DeleteScript = """
        local deleted = redis.call('DEL', KEYS[4], KEYS[5])
        local size = redis.call('HGET', KEYS[2], ARGV[1])
        if size then
            redis.call('HDEL', KEYS[2], ARGV[1])
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('DECRBY', KEYS[3], size)
        end
        return deleted
        """;

    // KEYS: entry, legacy entry. Returns the response, or the legacy blob it is in (marked), or nil.
    private const string GetScript = """
        local response = redis.call('HGET', KEYS[1], 'response')
        if response then return { 'response', response } end
        local legacy = redis.call('GET', KEYS[2])
        if legacy then return { 'legacy', legacy } end
        return nil
        """;

    private long NowMs => timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Stores a response; returns what its owner stores in all now.</summary>
    public async Task<long> SaveAsync(string owner, StoredResponse stored)
    {
        var id = stored.Response["id"]!.GetValue<string>();
        var result = await redis.GetDatabase().ScriptEvaluateAsync(SaveScript, [.. Books(owner), Entry(owner, id)],
        [
            id, JsonSerializer.SerializeToUtf8Bytes(stored.Response), JsonSerializer.SerializeToUtf8Bytes(stored.Input), stored.PreviousId ?? "", NowMs, _ttlMs,
        ]);
        return (long)result;
    }

    /// <summary>
    /// The conversation up to <paramref name="id"/> (none when null: then only the owner's sum is read), reading no
    /// more than <paramref name="maxBytes"/> of it; every response walked is kept alive another TTL.
    /// </summary>
    public async Task<Conversation> WalkAsync(string owner, string? id, long maxBytes)
    {
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(WalkScript, Books(owner),
            [$"{Prefix(owner)}response:", $"{Prefix(owner)}responses:", id ?? "", NowMs, _ttlMs, maxBytes, MaxTurns]))!;
        var outcome = (string)result[0]!;
        if (outcome != "found")
        {
            return new(outcome == "missing" ? ConversationWalk.Missing : ConversationWalk.TooLarge, (string?)result[1], [], 0);
        }
        var turns = new List<ConversationTurn>((result.Length - 3) / 2);
        for (var i = 3; i + 1 < result.Length; i += 2)
        {
            var input = (byte[])result[i]!;
            if (input.Length == 0 && ParseLegacy((byte[])result[i + 1]!) is { } legacy)
            {
                turns.Add(new(legacy.Input, legacy.Response));
            }
            else if (JsonNode.Parse(input) is JsonArray items && JsonNode.Parse((byte[])result[i + 1]!) is JsonObject response)
            {
                turns.Add(new(items, response));
            }
        }
        turns.Reverse();
        return new(ConversationWalk.Found, null, turns, long.Parse((string)result[2]!, System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task<JsonObject?> GetAsync(string owner, string id)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(GetScript, [Entry(owner, id), Legacy(owner, id)]);
        if (result.IsNull)
        {
            return null;
        }
        var found = (RedisResult[])result!;
        return (string)found[0]! == "legacy" ? ParseLegacy((byte[])found[1]!)?.Response : JsonNode.Parse((byte[])found[1]!) as JsonObject;
    }

    public async Task<bool> DeleteAsync(string owner, string id) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(DeleteScript, [.. Books(owner), Entry(owner, id), Legacy(owner, id)], [id]) > 0;

    /// <summary>A response stored by the build before chains: <c>{"response", "input"}</c>, its input the whole conversation before it.</summary>
    private static (JsonObject Response, JsonArray Input)? ParseLegacy(byte[] value) =>
        JsonNode.Parse(value) is JsonObject { } stored && stored["response"] is JsonObject response && stored["input"] is JsonArray input
        && stored.Remove("response") && stored.Remove("input")
            ? (response, input)
            : null;
}
