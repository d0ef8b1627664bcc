using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api.Usage;
using Aspire.Hosting.Testing;
using AgentPlatform.Tests.Infrastructure;
using StackExchange.Redis;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// A setting of each section given to the AppHost, as an operator gives it (user secrets, command line),
/// changes what the service that reads it does (the settings are in <see cref="AppHostFixture"/>).
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class SettingsEndToEndTests(AppHostFixture platform)
{
    [Fact]
    public async Task An_alert_rule_and_a_webhook_whose_url_is_a_secret_parameter_deliver_a_budget_alert()
    {
        // A budget just above what one short call costs (its reservation included), so that call passes 50%.
        using var admin = Client(AppHostFixture.MasterKey);
        var (keyId, key) = await NewKeyAsync(admin, new { name = "alerted", budgetUsd = 0.00001m, budgetPeriod = "monthly" });
        using var client = Client(key);
        using var chat = await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = "default", max_tokens = 8, messages = new[] { new { role = "user", content = "hi" } } });
        Assert.True(chat.IsSuccessStatusCode, await chat.Content.ReadAsStringAsync());

        var fired = await platform.Webhooks.WaitForAsync(
            n => n.GetProperty("fingerprint").GetString()!.StartsWith($"{AppHostFixture.BudgetRule}|key|{keyId}|", StringComparison.Ordinal),
            AppHostFixture.DefaultTimeout, AppHostFixture.WebhookPath);

        Assert.Equal("firing", fired.GetProperty("status").GetString());
        using var webhooks = await admin.GetFromJsonAsync<JsonDocument>("/admin/v1/alerts/webhooks");
        Assert.Contains(webhooks!.RootElement.GetProperty("data").EnumerateArray(), w => w.GetProperty("name").GetString() == AppHostFixture.WebhookName);
    }

    [Fact]
    public async Task Usage_records_and_agent_runs_are_kept_as_long_as_the_apphost_says()
    {
        using var admin = Client(AppHostFixture.MasterKey);
        using var defined = await admin.PutAsJsonAsync("/admin/v1/agents/e2e-settings", new { instructions = "Answer briefly.", model = "default" });
        Assert.True(defined.IsSuccessStatusCode, await defined.Content.ReadAsStringAsync());
        var (_, key) = await NewKeyAsync(admin, new { name = "retention" });
        using var client = Client(key);
        var started = DateTimeOffset.UtcNow;

        using var run = await client.PostAsJsonAsync("/v1/agents/e2e-settings/runs", new { input = "hi" }).WaitAsync(AppHostFixture.DefaultTimeout);
        Assert.True(run.IsSuccessStatusCode, await run.Content.ReadAsStringAsync());
        var runId = (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        await using var redis = await ConnectionMultiplexer.ConnectAsync((await platform.App.GetConnectionStringAsync("cache"))!);
        var database = redis.GetDatabase();
        var runTtl = await database.KeyTimeToLiveAsync($"agentplatform:agents:runs:{runId}");
        Assert.InRange(runTtl!.Value, TimeSpan.FromHours(AppHostFixture.RunRetentionHours) - TimeSpan.FromMinutes(5), TimeSpan.FromHours(AppHostFixture.RunRetentionHours));

        // The run's usage records land in their hour's hash (written by the ledger shortly after the answer;
        // the hour may have turned during the run).
        RedisKey[] hours = [UsageLedger.RecordsKey(started), UsageLedger.RecordsKey(DateTimeOffset.UtcNow)];
        var recordsTtl = await Eventually.ReadAsync(async () => await database.KeyTimeToLiveAsync(hours[0]) ?? await database.KeyTimeToLiveAsync(hours[1]),
            ttl => ttl is not null, "the run's usage records in their hour's hash", AppHostFixture.DefaultTimeout);
        Assert.InRange(recordsTtl!.Value, TimeSpan.FromDays(AppHostFixture.UsageRetentionDays - 1), TimeSpan.FromDays(AppHostFixture.UsageRetentionDays) + TimeSpan.FromHours(1));
    }

    [Fact]
    public void The_shutdown_settings_reach_every_service_process()
    {
        foreach (var service in new[] { "router", "web" })
        {
            Assert.True(platform.App.ResourceNotifications.TryGetCurrentState(service, out var state), service);
            Assert.Contains(state.Snapshot.EnvironmentVariables, v => v.Name == "Shutdown__DrainTimeoutSeconds" && v.Value == AppHostFixture.DrainTimeoutSeconds);
        }
    }

    private HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    private static async Task<(string Id, string Key)> NewKeyAsync(HttpClient admin, object key)
    {
        using var tenant = await admin.PostAsJsonAsync("/admin/v1/tenants", new { name = $"e2e-settings-{Guid.NewGuid():N}" });
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var body = JsonSerializer.SerializeToNode(key)!.AsObject();
        body["tenantId"] = tenantId;
        using var created = await admin.PostAsJsonAsync("/admin/v1/keys", body);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var json = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("id").GetString()!, json.GetProperty("key").GetString()!);
    }
}
