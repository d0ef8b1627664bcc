using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Tenancy;

/// <summary>Where tenants and keys live in Redis: on a Redis Cluster (one hash slot), and moved there from the names of before.</summary>
public sealed class TenancyInRedisTests
{
    [Fact]
    public async Task On_a_redis_cluster_tenants_and_keys_are_created_changed_audited_and_deleted()
    {
        await using var cluster = await TestRedisCluster.StartAsync();
        // The admin API alone: no Router is called.
        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(cluster.ConnectionString, new Uri("http://127.0.0.1:9"))).Start();
        using var admin = ApiCalls.Admin(api);

        var tenantId = await ApiCalls.CreateTenantAsync(api, new { name = "On a cluster", budgetUsd = 10, budgetPeriod = "monthly" });
        var (keyId, _) = await ApiCalls.CreateKeyAsync(api, tenantId, new { name = "first", rpm = 60 });
        using var patched = await admin.PatchAsJsonAsync($"/admin/v1/keys/{keyId}", new { name = "renamed" });
        using var reset = await admin.PostAsync($"/admin/v1/tenants/{tenantId}/spend/reset", null);
        var spend = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/spend?tenantId={tenantId}");
        var listed = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/keys");
        using var deleted = await admin.DeleteAsync($"/admin/v1/tenants/{tenantId}");
        var revoked = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/keys/{keyId}");
        var audit = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/audit");

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Equal(2, spend.GetProperty("data").GetArrayLength()); // the tenant and its key
        Assert.Equal("renamed", Assert.Single(listed.GetProperty("data").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.NotEqual(JsonValueKind.Null, revoked.GetProperty("revokedAt").ValueKind);
        Assert.Equal(
            ["tenant.deleted", "key.revoked", "tenant.spend_reset", "key.updated", "key.created", "tenant.created"],
            audit.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task Tenants_keys_and_the_audit_log_written_under_the_names_of_before_are_moved_at_start_and_keep_working()
    {
        await using var redis = await TestRedis.StartAsync();
        await using var simulator = PlatformFixture.StartSimulator();
        await using var router = new KestrelApp<RouterOptions>(RouterSettings.OneSimulator(redis.ConnectionString, simulator.BaseAddress)).Start();
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            await WriteAsBeforeTheTagsAsync(connection.GetDatabase(), budget: "");
        }

        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, router.BaseAddress)).Start();
        // A second replica starting on the moved data finds nothing left to move and changes nothing.
        await using var second = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, router.BaseAddress)).Start();
        using var admin = ApiCalls.Admin(second);
        using var client = ApiCalls.Client(api, Plaintext);
        using var answer = await client.PostAsync("/v1/chat/completions", Json.Chat());
        var tenants = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/tenants");
        var audit = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/audit");
        await using var check = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var left = check.GetServer(check.GetEndPoints().Single()).Keys(pattern: "agentplatform:*")
            .Select(k => (string)k!).Where(k => !k.StartsWith(TenancyStore.Tag, StringComparison.Ordinal)
                && (k.StartsWith("agentplatform:tenant", StringComparison.Ordinal) || k.StartsWith("agentplatform:key", StringComparison.Ordinal)
                    || k == "agentplatform:audit"))
            .ToList();

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("Before the tags", Assert.Single(tenants.GetProperty("data").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal("key_old", Assert.Single(audit.GetProperty("data").EnumerateArray()).GetProperty("target").GetString());
        Assert.Empty(left);
    }

    [Fact]
    public async Task Budget_spend_counted_under_the_names_of_before_is_moved_at_start_and_still_refuses()
    {
        await using var redis = await TestRedis.StartAsync();
        const string AllTime = "all"; // the period of a budget with none (no clock in the test)
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var database = connection.GetDatabase();
        await WriteAsBeforeTheTagsAsync(database, budget: "\"budgetUsd\":1,");
        // The key has spent its dollar; its tenant, a quarter, under a counter that expires (as a month's would).
        await database.StringSetAsync($"agentplatform:spend:key:key_old:{AllTime}", BudgetPeriod.ToNanoUsd(1m));
        await database.StringSetAsync($"agentplatform:spend:tenant:ten_old:{AllTime}", BudgetPeriod.ToNanoUsd(0.25m), TimeSpan.FromDays(40));
        // A replica of this version already counted a cent for the tenant under the new name: both are kept.
        await database.StringSetAsync($"agentplatform:{{t:ten_old}}:spend:tenant:ten_old:{AllTime}", BudgetPeriod.ToNanoUsd(0.01m));

        // A priced deployment, so a request has a cost for the budget to refuse (before it is sent).
        await using var simulator = PlatformFixture.StartSimulator();
        await using var router = new KestrelApp<RouterOptions>(RouterSettings.OneSimulator(redis.ConnectionString, simulator.BaseAddress, pricesPerMillion: (1, 2))).Start();
        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, router.BaseAddress)).Start();
        using var client = ApiCalls.Client(api, Plaintext);
        using var refused = await client.PostAsync("/v1/chat/completions", Json.Chat());
        using var admin = ApiCalls.Admin(api);
        var spend = (await admin.GetFromJsonAsync<JsonElement>("/admin/v1/spend?tenantId=ten_old")).GetProperty("data").EnumerateArray()
            .ToDictionary(s => s.GetProperty("scope").GetString()!, s => s.GetProperty("spentUsd").GetDecimal());

        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("budget_exceeded", (await Json.ReadErrorAsync(refused)).GetProperty("code").GetString());
        Assert.Equal(1m, spend["key"]);
        Assert.Equal(0.26m, spend["tenant"]);
        Assert.False(await database.KeyExistsAsync($"agentplatform:spend:key:key_old:{AllTime}"));
        Assert.False(await database.KeyExistsAsync($"agentplatform:spend:tenant:ten_old:{AllTime}"));
        Assert.InRange((await database.KeyTimeToLiveAsync($"agentplatform:{{t:ten_old}}:spend:tenant:ten_old:{AllTime}"))!.Value, TimeSpan.FromDays(39), TimeSpan.FromDays(40));
    }

    private const string Plaintext = "ap-written-before-the-hash-tags-0123456789abcdefghij";

    /// <summary>What a version before the hash tags wrote: records (with <paramref name="budget"/>'s fields), the hash index, the two indexes and the audit log.</summary>
    private static async Task WriteAsBeforeTheTagsAsync(IDatabase database, string budget)
    {
        await database.StringSetAsync("agentplatform:tenant:ten_old", $$"""
            {"name":"Before the tags",{{budget}}"models":[],"metadata":{},"id":"ten_old","createdAt":"2026-11-01T00:00:00+00:00","updatedAt":"2026-11-01T00:00:00+00:00"}
            """);
        await database.StringSetAsync("agentplatform:key:key_old", $$"""
            {"name":"old key",{{budget}}"models":[],"metadata":{},"id":"key_old","tenantId":"ten_old","hash":"{{TenancyStore.HashOf(Plaintext)}}","keyHint":"ap-writ...ghij","createdAt":"2026-11-01T00:00:00+00:00","updatedAt":"2026-11-01T00:00:00+00:00"}
            """);
        await database.StringSetAsync($"agentplatform:keyhash:{TenancyStore.HashOf(Plaintext)}", "key_old");
        await database.SetAddAsync("agentplatform:tenants", "ten_old");
        await database.SetAddAsync("agentplatform:keys", "key_old");
        await database.ListLeftPushAsync("agentplatform:audit", """{"at":"2026-11-01T00:00:00+00:00","actor":"admin","action":"key.created","target":"key_old"}""");
    }
}
