using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Api.Tenancy;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Responses;

/// <summary>A stored response: the response object as the client got it, and the whole input that led to it.</summary>
public sealed record StoredResponse(JsonObject Response, JsonArray Input);

/// <summary>
/// The Responses API's stored responses, in Redis: one string per response under its owner's prefix (a
/// tenant's slot, so a cluster keeps it beside the tenant's limits), kept <see cref="ApiOptions.ResponsesTtlDays"/>.
/// An id is only ever read within its owner's prefix: no tenant can read, chain from or delete another's.
/// </summary>
public sealed class ResponseStore(IConnectionMultiplexer redis, IOptions<ApiOptions> options)
{
    private readonly TimeSpan _ttl = TimeSpan.FromDays(options.Value.ResponsesTtlDays);

    /// <summary>Whose responses a client sees: its tenant's, or the master key's own.</summary>
    public static string OwnerOf(Access.ClientIdentity client) => client.Tenant?.Id ?? "master";

    private static RedisKey Key(string owner, string id) => $"{TenantSlot.Prefix(owner)}responses:{id}";

    public Task SaveAsync(string owner, StoredResponse stored) =>
        redis.GetDatabase().StringSetAsync(Key(owner, stored.Response["id"]!.GetValue<string>()),
            JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["response"] = stored.Response, ["input"] = stored.Input }), _ttl);

    public async Task<StoredResponse?> GetAsync(string owner, string id)
    {
        var value = await redis.GetDatabase().StringGetAsync(Key(owner, id));
        if (value.IsNull || JsonNode.Parse((byte[])value!) is not JsonObject { } stored
            || stored["response"] is not JsonObject response || stored["input"] is not JsonArray input)
        {
            return null;
        }
        stored.Remove("response");
        stored.Remove("input");
        return new StoredResponse(response, input);
    }

    public Task<bool> DeleteAsync(string owner, string id) => redis.GetDatabase().KeyDeleteAsync(Key(owner, id));
}
