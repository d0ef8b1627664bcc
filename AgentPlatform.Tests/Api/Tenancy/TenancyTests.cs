using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Tenancy;

/// <summary>Tenants and keys through two Api replicas: on one Redis node (<see cref="TenancyTests"/>) and on a Redis Cluster.</summary>
public abstract class TenancySuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : TenancyFixture
{
    [Fact]
    public async Task A_key_created_for_a_tenant_is_shown_once_works_and_makes_the_master_key_admin_only()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Acme", rpm = 600, budgetUsd = 25.5, budgetPeriod = "monthly", metadata = new { team = "search" } });
        Assert.StartsWith("ten_", tenant.GetProperty("id").GetString());
        Assert.Equal(25.5m, tenant.GetProperty("budgetUsd").GetDecimal());
        Assert.Equal("search", tenant.GetProperty("metadata").GetProperty("team").GetString());

        var (key, plaintext) = await CreateKeyAsync(admin, new { tenantId = tenant.GetProperty("id").GetString(), name = "checkout app", tpm = 10_000 });

        Assert.StartsWith("ap-", plaintext);
        Assert.True(plaintext.Length >= 3 + 43, "at least 32 random bytes, base64url");
        Assert.Equal($"{plaintext[..7]}...{plaintext[^4..]}", key.GetProperty("keyHint").GetString());
        var shownAgain = await admin.GetStringAsync($"/admin/v1/keys/{key.GetProperty("id").GetString()}");
        Assert.DoesNotContain(plaintext, shownAgain);
        Assert.DoesNotContain("hash", shownAgain, StringComparison.OrdinalIgnoreCase);

        using var client = TenancyFixture.Client(fixture.First, plaintext);
        using var answer = await client.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        using var master = TenancyFixture.Client(fixture.Second, PlatformFixture.MasterKey);
        using var refused = await master.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("master_key_not_a_client_key", (await Json.ReadErrorAsync(refused)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/v1/tenants")).StatusCode);

        var logged = string.Join("\n", fixture.Logs.Logs.Select(l => l.Message));
        Assert.DoesNotContain(plaintext, logged);
        Assert.DoesNotContain(AgentPlatform.Api.Tenancy.TenancyStore.HashOf(plaintext), logged);
    }

    [Fact]
    public async Task A_key_may_use_only_the_model_groups_it_and_its_tenant_allow()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Restricted", models = new[] { "default", "other" } });
        var (_, plaintext) = await CreateKeyAsync(admin, new { tenantId = tenant.GetProperty("id").GetString(), name = "narrow", models = new[] { "default" } });
        using var client = TenancyFixture.Client(fixture.First, plaintext);

        using var allowed = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "default"));
        using var forbidden = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "other"));
        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models");

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var error = await Json.ReadErrorAsync(forbidden);
        Assert.Equal("model_not_allowed", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Equal(["default"], models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_revoked_key_is_refused_by_both_api_replicas_within_a_second()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Revocable" });
        var (key, plaintext) = await CreateKeyAsync(admin, new { tenantId = tenant.GetProperty("id").GetString(), name = "soon gone" });
        using var onFirst = TenancyFixture.Client(fixture.First, plaintext);
        using var onSecond = TenancyFixture.Client(fixture.Second, plaintext);
        Assert.Equal(HttpStatusCode.OK, (await onFirst.GetAsync("/v1/models")).StatusCode); // cached on both
        Assert.Equal(HttpStatusCode.OK, (await onSecond.GetAsync("/v1/models")).StatusCode);

        using var revoked = await admin.DeleteAsync($"/admin/v1/keys/{key.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        await Eventually.TrueAsync(async () =>
        {
            using var models = await onSecond.GetAsync("/v1/models");
            return models.StatusCode == HttpStatusCode.Unauthorized;
        }, "the other replica to refuse the revoked key", TimeSpan.FromSeconds(1));

        using var first = await onFirst.GetAsync("/v1/models");
        using var second = await onSecond.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal("key_revoked", (await Json.ReadErrorAsync(second)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Expired_keys_and_keys_of_a_deleted_tenant_are_refused()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Short-lived" });
        var tenantId = tenant.GetProperty("id").GetString();
        var (_, expired) = await CreateKeyAsync(admin, new { tenantId, name = "past", expiresAt = "2020-01-01T00:00:00Z" });
        var (_, live) = await CreateKeyAsync(admin, new { tenantId, name = "live" });

        using var expiredClient = TenancyFixture.Client(fixture.First, expired);
        Assert.Equal("key_expired", (await Json.ReadErrorAsync(await expiredClient.GetAsync("/v1/models"))).GetProperty("code").GetString());

        using var liveClient = TenancyFixture.Client(fixture.First, live);
        Assert.Equal(HttpStatusCode.OK, (await liveClient.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"/admin/v1/tenants/{tenantId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await liveClient.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/admin/v1/tenants/{tenantId}")).StatusCode);
    }

    [Fact]
    public async Task Bad_fields_are_refused_naming_each_and_patches_change_only_what_they_name()
    {
        using var admin = fixture.Admin();

        using var bad = await admin.PostAsJsonAsync("/admin/v1/tenants", new { name = "", rpm = 0, budgetPeriod = "hourly", colour = "red" });
        var message = (await Json.ReadErrorAsync(bad)).GetProperty("message").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        foreach (var field in new[] { "'name'", "'rpm'", "'budgetPeriod'", "'colour'" })
        {
            Assert.Contains(field, message);
        }

        var tenant = await CreateTenantAsync(admin, new { name = "Patched", rpm = 100, tpm = 5000 });
        using var patched = await admin.PatchAsJsonAsync($"/admin/v1/tenants/{tenant.GetProperty("id").GetString()}", new { rpm = (int?)null, maxConcurrent = 4 });
        var after = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, after.GetProperty("rpm").ValueKind);
        Assert.Equal(5000, after.GetProperty("tpm").GetInt32());
        Assert.Equal(4, after.GetProperty("maxConcurrent").GetInt32());

        using var orphan = await admin.PostAsJsonAsync("/admin/v1/keys", new { tenantId = "ten_missing", name = "x" });
        Assert.Equal("tenantId", (await Json.ReadErrorAsync(orphan)).GetProperty("param").GetString());

        var audit = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/audit?limit=50");
        Assert.Contains(audit.GetProperty("data").EnumerateArray(), e =>
            e.GetProperty("action").GetString() == "tenant.updated" && e.GetProperty("target").GetString() == tenant.GetProperty("id").GetString());
    }

    [Fact]
    public async Task The_console_gives_itself_a_virtual_key_once_the_master_key_is_admin_only()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Makes the master key admin-only" });
        await CreateKeyAsync(admin, new { tenantId = tenant.GetProperty("id").GetString(), name = "any" });
        var services = new ServiceCollection();
        services.AddHttpClient(AgentPlatform.Web.Platform.PlatformApiClient.HttpClientName, c => c.BaseAddress = fixture.Second.BaseAddress);
        services.AddHttpClient(AgentPlatform.Web.Platform.PlatformApiClient.StreamingHttpClientName, c => c.BaseAddress = fixture.Second.BaseAddress);
        services.AddOptions<AgentPlatform.Web.Platform.ConsoleOptions>().Configure(o => o.MasterKey = PlatformFixture.MasterKey);
        services.AddSingleton<AgentPlatform.Web.Platform.ConsoleClientKey>();
        services.AddTransient<AgentPlatform.Web.Platform.PlatformApiClient>();
        await using var provider = services.BuildServiceProvider();

        var models = await provider.GetRequiredService<AgentPlatform.Web.Platform.PlatformApiClient>().ListModelsAsync(CancellationToken.None);
        var text = new System.Text.StringBuilder();
        await foreach (var update in provider.GetRequiredService<AgentPlatform.Web.Platform.PlatformApiClient>().StreamChatAsync("default", [new("user", "hello")], virtualKey: null, CancellationToken.None))
        {
            Assert.Null(update.Error);
            text.Append(update.Text);
        }

        Assert.Contains("default", models);
        Assert.NotEqual(0, text.Length);
        var keys = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/keys");
        Assert.Single(keys.GetProperty("data").EnumerateArray(), k =>
            k.GetProperty("name").GetString() == AgentPlatform.Web.Platform.ConsoleClientKey.KeyName && k.GetProperty("revokedAt").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task The_admin_api_refuses_virtual_keys()
    {
        using var admin = fixture.Admin();
        var tenant = await CreateTenantAsync(admin, new { name = "Not admins" });
        var (_, plaintext) = await CreateKeyAsync(admin, new { tenantId = tenant.GetProperty("id").GetString(), name = "client" });
        using var client = TenancyFixture.Client(fixture.First, plaintext);

        using var response = await client.GetAsync("/admin/v1/tenants");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static async Task<JsonElement> CreateTenantAsync(HttpClient admin, object body)
    {
        using var response = await admin.PostAsJsonAsync("/admin/v1/tenants", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<(JsonElement Key, string Plaintext)> CreateKeyAsync(HttpClient admin, object body)
    {
        using var response = await admin.PostAsJsonAsync("/admin/v1/keys", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var key = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (key, key.GetProperty("key").GetString()!);
    }
}

public sealed class TenancyTests(TenancyFixture fixture) : TenancySuite<TenancyFixture>(fixture);

public sealed class TenancyOnClusterTests(ClusterTenancyFixture fixture) : TenancySuite<ClusterTenancyFixture>(fixture);
