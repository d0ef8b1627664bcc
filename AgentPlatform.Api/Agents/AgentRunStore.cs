using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Agent runs and their conversations (threads) in Redis, each for a while after its last use
/// (<see cref="AgentOptions"/>): a run is read back by id, a thread continued by any Api replica.
/// </summary>
public sealed class AgentRunStore(IConnectionMultiplexer redis, IOptions<AgentOptions> options)
{
    public static RedisKey RunKey(string id) => $"agentplatform:agents:runs:{id}";

    public static RedisKey ThreadKey(string id) => $"agentplatform:agents:threads:{id}";

    private IDatabase Database => redis.GetDatabase();

    public Task SaveRunAsync(AgentRun run) =>
        Database.StringSetAsync(RunKey(run.Id), JsonSerializer.SerializeToUtf8Bytes(run, AgentRun.Json), TimeSpan.FromHours(options.Value.RunRetentionHours));

    public async Task<AgentRun?> GetRunAsync(string id) =>
        IsId(id) && await Database.StringGetAsync(RunKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<AgentRun>((byte[])json!, AgentRun.Json)
            : null;

    /// <summary>A thread's saved conversation, or null when there is none (never made, or expired).</summary>
    public async Task<AgentThread?> GetThreadAsync(string id) =>
        IsId(id) && await Database.StringGetAsync(ThreadKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<AgentThread>((byte[])json!, AgentRun.Json)
            : null;

    /// <summary>Saves a thread; its time to live starts again.</summary>
    public Task SaveThreadAsync(string id, AgentThread thread) =>
        Database.StringSetAsync(ThreadKey(id), JsonSerializer.SerializeToUtf8Bytes(thread, AgentRun.Json), TimeSpan.FromHours(options.Value.ThreadTtlHours));

    /// <summary>Ids are ours (<c>run_…</c>, <c>thread_…</c>): anything longer or odder is not looked up.</summary>
    private static bool IsId(string id) => id.Length is > 4 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}

/// <summary>A conversation: whose it is, and the agent session's own serialized state (its messages).</summary>
public sealed record AgentThread(string? TenantId, string Agent, JsonElement Session);
