using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Pool;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Alerts;

/// <summary>
/// Alerts through two Api replicas evaluating the same rules in Redis: a budget alert notifies once
/// when it starts and once when it ends, whichever replica evaluates; webhooks that fail are retried.
/// </summary>
[Collection(AlertCollection.Name)]
public sealed class AlertTests(AlertFixture fixture)
{
    [Fact]
    public async Task A_key_past_80_percent_of_its_budget_alerts_once_and_resolves_once_when_its_spend_is_reset()
    {
        var (keyId, key) = await fixture.NewBudgetedKeyAsync("eighty");
        await fixture.SpendUntilRefusedAsync(key);

        var fired = await fixture.WaitForAsync("json", keyId, "80", AlertFixtureStatus.Firing);
        Assert.Equal("budget", fired.GetProperty("rule").GetString());
        Assert.Contains("past 80%", fired.GetProperty("summary").GetString());
        Assert.Equal("key", fired.GetProperty("labels").GetProperty("scope").GetString());
        // Rounds go on on both replicas (every 0.2 s): still one notification.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Single(fixture.Notifications("json", keyId, "80", AlertFixtureStatus.Firing));
        var slack = Assert.Single(fixture.Receiver.Received, r => r.Path == "slack"
            && r.Body.GetProperty("text").GetString()!.Contains(keyId, StringComparison.Ordinal)
            && r.Body.GetProperty("text").GetString()!.Contains("past 80%", StringComparison.Ordinal));
        Assert.StartsWith(":rotating_light: *FIRING* [budget]", slack.Body.GetProperty("text").GetString());

        using var admin = ApiCalls.Admin(fixture.First);
        using var reset = await admin.PostAsync($"/admin/v1/keys/{keyId}/spend/reset", null);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);

        var resolved = await fixture.WaitForAsync("json", keyId, "80", AlertFixtureStatus.Resolved);
        Assert.NotNull(resolved.GetProperty("endsAt").GetString());
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(fixture.Notifications("json", keyId, "80", AlertFixtureStatus.Resolved));
        Assert.Single(fixture.Notifications("json", keyId, "80", AlertFixtureStatus.Firing));

        // The history says the same, through the admin API of either replica.
        using var other = ApiCalls.Admin(fixture.Second);
        var history = (await other.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/history?limit=1000"))
            .GetProperty("data").EnumerateArray().Where(e => e.GetProperty("fingerprint").GetString() == $"budget|key|{keyId}|80").ToList();
        Assert.Equal(1, history.Count(e => e.GetProperty("event").GetString() == "fired"));
        Assert.Equal(1, history.Count(e => e.GetProperty("event").GetString() == "resolved"));
        Assert.Equal(4, history.Count(e => e.GetProperty("event").GetString() == "delivered")); // two events to two webhooks
        var firing = (await other.GetFromJsonAsync<JsonElement>("/admin/v1/alerts")).GetProperty("data").EnumerateArray();
        Assert.DoesNotContain(firing, a => a.GetProperty("labels").GetProperty("keyId").GetString() == keyId);
    }

    [Fact]
    public async Task A_webhook_that_fails_is_retried_and_the_delivery_recorded_with_its_tries()
    {
        fixture.Receiver.FailNext("json", 2);
        var (keyId, key) = await fixture.NewBudgetedKeyAsync("retried");
        await fixture.SpendUntilRefusedAsync(key);

        await fixture.WaitForAsync("json", keyId, "80", AlertFixtureStatus.Firing);

        using var admin = ApiCalls.Admin(fixture.First);
        var delivered = (await admin.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/history?limit=1000"))
            .GetProperty("data").EnumerateArray()
            .Where(e => e.GetProperty("event").GetString() == "delivered" && e.GetProperty("webhook").GetString() == "ops-json")
            .Where(e => e.GetProperty("fingerprint").GetString()!.Contains(keyId, StringComparison.Ordinal))
            .ToList();
        Assert.Contains(delivered, e => e.GetProperty("attempts").GetInt32() == 3);
        Assert.All(delivered, e => Assert.DoesNotContain(fixture.Receiver.BaseAddress.Authority, e.GetRawText()));
    }

    [Fact]
    public async Task Rules_are_read_and_edited_through_the_admin_API_with_clear_errors()
    {
        using var first = ApiCalls.Admin(fixture.First);
        using var second = ApiCalls.Admin(fixture.Second);

        using var bad = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "weather", thresholdsPercent = new[] { 0 } });
        using var typo = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "budget", thresholds = new[] { 90 } });
        using var good = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "budget", thresholdsPercent = new[] { 90 } });
        var seen = await second.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules/strict");
        var all = await second.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules");
        using var deleted = await second.DeleteAsync("/admin/v1/alerts/rules/strict");
        using var gone = await first.GetAsync("/admin/v1/alerts/rules/strict");
        var webhooks = await first.GetStringAsync("/admin/v1/alerts/webhooks");

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("kind must be one of: budget", (await Json.ReadErrorAsync(bad)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("thresholds", (await Json.ReadErrorAsync(typo)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal([90], seen.GetProperty("thresholdsPercent").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Contains(all.GetProperty("data").EnumerateArray(), r => r.GetProperty("name").GetString() == "budget"); // seeded: no rule configured
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Contains("ops-slack", webhooks);
        Assert.DoesNotContain(fixture.Receiver.BaseAddress.Authority, webhooks);
    }
}

public static class AlertFixtureStatus
{
    public const string Firing = "firing";
    public const string Resolved = "resolved";
}

/// <summary>Redis, a priced simulator group behind a Router, a webhook receiver, and two Api replicas evaluating every 0.2 s.</summary>
public sealed class AlertFixture : IAsyncLifetime
{
    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public WebhookReceiver Receiver { get; private set; } = null!;
    public KestrelApp<ApiOptions> First { get; private set; } = null!;
    public KestrelApp<ApiOptions> Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        Receiver = await WebhookReceiver.StartAsync();
        Simulator = PlatformFixture.StartSimulator();
        Router = new KestrelApp<RouterOptions>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = Redis.ConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Router:ModelGroups:priced:Deployments:0:Name"] = "priced-sim",
            ["Router:ModelGroups:priced:Deployments:0:BaseUrl"] = $"{Simulator.BaseAddress}v1",
            ["Router:ModelGroups:priced:Deployments:0:Model"] = "sim-model",
            ["Router:ModelGroups:priced:Deployments:0:InputPricePerMillion"] = "1000",
            ["Router:ModelGroups:priced:Deployments:0:OutputPricePerMillion"] = "1000",
        }).Start();
        First = StartApi();
        Second = StartApi();
    }

    private KestrelApp<ApiOptions> StartApi() => new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress, new Dictionary<string, string?>
    {
        ["Alerts:EvaluationIntervalSeconds"] = "0.2",
        ["Alerts:DeliveryBaseDelayMs"] = "50",
        ["Alerts:Webhooks:0:Name"] = "ops-json",
        ["Alerts:Webhooks:0:Url"] = $"{Receiver.BaseAddress}json",
        ["Alerts:Webhooks:1:Name"] = "ops-slack",
        ["Alerts:Webhooks:1:Url"] = $"{Receiver.BaseAddress}slack",
        ["Alerts:Webhooks:1:Format"] = "slack",
    })).Start();

    /// <summary>A key with a daily budget of $0.10; each call of <see cref="SpendUntilRefusedAsync"/> costs about $0.02.</summary>
    public async Task<(string Id, string Key)> NewBudgetedKeyAsync(string name)
    {
        var tenantId = await ApiCalls.CreateTenantAsync(First, new { name = $"alerts-{name}-{Guid.NewGuid():N}" });
        return await ApiCalls.CreateKeyAsync(First, tenantId, new { name, budgetUsd = 0.1m, budgetPeriod = "daily" });
    }

    /// <summary>Calls with the key until its budget refuses (402): its spend is then within one call of the budget, past 80%.</summary>
    public async Task SpendUntilRefusedAsync(string key)
    {
        using var client = ApiCalls.Client(First, key);
        for (var i = 0; i < 50; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions",
                Json.Body("""{"model":"priced","max_tokens":8,"messages":[{"role":"user","content":"Spend a little"}]}"""));
            if (response.StatusCode == HttpStatusCode.PaymentRequired)
            {
                return;
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Fail("the budget never refused");
    }

    /// <summary>The notifications the webhook at <paramref name="path"/> received for the key's threshold in the given status.</summary>
    public List<JsonElement> Notifications(string path, string keyId, string threshold, string status) => Receiver.Received
        .Where(r => r.Path == path)
        .Select(r => r.Body)
        .Where(b => b.GetProperty("status").GetString() == status
            && b.GetProperty("labels").TryGetProperty("keyId", out var id) && id.GetString() == keyId
            && b.GetProperty("labels").GetProperty("thresholdPercent").GetString() == threshold)
        .ToList();

    public async Task<JsonElement> WaitForAsync(string path, string keyId, string threshold, string status)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (Notifications(path, keyId, threshold, status) is [var first, ..])
            {
                return first;
            }
        }
        throw new TimeoutException($"No {status} notification for {keyId} at {threshold}% reached '{path}'.");
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await Receiver.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class AlertCollection : ICollectionFixture<AlertFixture>
{
    public const string Name = "alerts";
}

