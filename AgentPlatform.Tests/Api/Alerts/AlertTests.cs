using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Alerts;

/// <summary>
/// Alerts through two Api replicas evaluating the same rules in Redis: a budget alert notifies once
/// when it starts and once when it ends, whichever replica evaluates; webhooks that fail are retried —
/// on one Redis node (<see cref="AlertTests"/>) and on a Redis Cluster.
/// </summary>
public abstract class AlertSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : AlertFixture
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
        await AlertRounds.PassAsync(5, fixture.First, fixture.Second);
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
        await AlertRounds.PassAsync(3, fixture.First, fixture.Second);
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
        Assert.DoesNotContain(firing, a => a.GetProperty("rule").GetString() == "budget"
            && a.GetProperty("labels").TryGetProperty("keyId", out var id) && id.GetString() == keyId);
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
    public async Task A_failing_deployment_fires_its_error_rate_and_breaker_alerts_and_both_resolve_after_the_fault_is_cleared()
    {
        using var traffic = new CancellationTokenSource();
        var sending = fixture.SendToPairAsync(traffic.Token);
        try
        {
            await PlatformFixture.InjectFaultAsync(fixture.Faulty, new { kind = "500", rate = 1.0 });
            var fired = await fixture.WaitForAsync(b => b.GetProperty("rule").GetString() == "errors"
                && b.GetProperty("labels").GetProperty("deployment").GetString() == "faulty-sim" && b.GetProperty("status").GetString() == "firing");
            Assert.Contains("Deployment 'faulty-sim' of model group 'pair' failed", fired.GetProperty("summary").GetString());

            // Its breaker opened too, and has stayed open (through its probes) past the rule's second.
            var broken = await fixture.WaitForAsync(b => b.GetProperty("rule").GetString() == "breaker" && b.GetProperty("status").GetString() == "firing");
            Assert.Equal("breaker|deployment|pair|faulty-sim", broken.GetProperty("fingerprint").GetString());

            await PlatformFixture.ClearFaultsAsync(fixture.Faulty);
            await fixture.WaitForAsync(b => b.GetProperty("rule").GetString() == "errors"
                && b.GetProperty("labels").GetProperty("deployment").GetString() == "faulty-sim" && b.GetProperty("status").GetString() == "resolved",
                timeout: TimeSpan.FromSeconds(60));
            await fixture.WaitForAsync(b => b.GetProperty("rule").GetString() == "breaker" && b.GetProperty("status").GetString() == "resolved",
                timeout: TimeSpan.FromSeconds(30));
        }
        finally
        {
            await traffic.CancelAsync();
            await sending;
        }
        var errors = fixture.Receiver.Received.Where(r => r.Path == "json" && r.Body.GetProperty("rule").GetString() == "errors").Select(r => r.Body).ToList();
        Assert.Equal(["firing", "resolved"], errors.Select(b => b.GetProperty("status").GetString()));
        Assert.All(errors, b => Assert.Equal("faulty-sim", b.GetProperty("labels").GetProperty("deployment").GetString()));
        var breaker = fixture.Receiver.Received.Where(r => r.Path == "json" && r.Body.GetProperty("rule").GetString() == "breaker").Select(r => r.Body).ToList();
        Assert.Equal(["firing", "resolved"], breaker.Select(b => b.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_model_group_whose_99th_percentile_passes_the_bound_fires_its_latency_alert()
    {
        var tenantId = await ApiCalls.CreateTenantAsync(fixture.First, new { name = $"alerts-slow-{Guid.NewGuid():N}" });
        var (_, key) = await ApiCalls.CreateKeyAsync(fixture.First, tenantId, new { name = "slow traffic" });
        using var client = ApiCalls.Client(fixture.Second, key);
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "slow"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The slow group's alert (another group's may fire too, when a loaded machine slows its answers).
        var fired = await fixture.WaitForAsync(b => b.TryGetProperty("fingerprint", out var fingerprint) && fingerprint.GetString() == "latency|group|slow" && b.GetProperty("status").GetString() == "firing");

        Assert.Equal("latency", fired.GetProperty("rule").GetString());
        Assert.Contains("Model group 'slow' answered 99% of", fired.GetProperty("summary").GetString());
        Assert.False(fired.GetProperty("labels").TryGetProperty("deployment", out _));
    }

    [Fact]
    public async Task A_key_spending_fast_enough_to_run_out_of_budget_within_the_bound_fires_its_burn_rate_alert_and_a_slow_one_does_not()
    {
        // A lifetime budget (no period resets it first): $1 and $100, each spending about $0.05 now.
        var tenantId = await ApiCalls.CreateTenantAsync(fixture.First, new { name = $"alerts-burn-{Guid.NewGuid():N}" });
        var (fastId, fast) = await ApiCalls.CreateKeyAsync(fixture.First, tenantId, new { name = "fast", budgetUsd = 1m, budgetPeriod = "none" });
        var (slowId, slow) = await ApiCalls.CreateKeyAsync(fixture.First, tenantId, new { name = "slow", budgetUsd = 100m, budgetPeriod = "none" });
        foreach (var key in new[] { fast, slow })
        {
            using var client = ApiCalls.Client(fixture.Second, key);
            for (var i = 0; i < 3; i++)
            {
                using var response = await client.PostAsync("/v1/chat/completions",
                    Json.Body($$"""{"model":"priced","max_tokens":8,"messages":[{"role":"user","content":"Burn {{i}}"}]}"""));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        static bool BurnOf(JsonElement b, string keyId) => b.GetProperty("rule").GetString() == "burn"
            && b.GetProperty("labels").TryGetProperty("keyId", out var id) && id.GetString() == keyId;
        var fired = await fixture.WaitForAsync(b => BurnOf(b, fastId));

        // Each call is 16 tokens at $1,000 a million: at ~$0.05 an hour, the $0.95 left lasts ~20 h, within 24; $99.95 lasts ~2,000 h.
        Assert.Equal($"burn|key|{fastId}", fired.GetProperty("fingerprint").GetString());
        Assert.Matches(@"Key 'fast' \(key_\w+\) is spending \$0\.0\d+/h; at that rate its \$1 budget \(\$0\.0\d+ spent\) runs out in \d+(\.\d)? h", fired.GetProperty("summary").GetString());
        await AlertRounds.PassAsync(3, fixture.First, fixture.Second);
        Assert.Single(fixture.Receiver.All(b => BurnOf(b, fastId)));
        Assert.Empty(fixture.Receiver.All(b => BurnOf(b, slowId)));
    }

    [Fact]
    public async Task Rules_are_read_and_edited_through_the_admin_API_with_clear_errors()
    {
        using var first = ApiCalls.Admin(fixture.First);
        using var second = ApiCalls.Admin(fixture.Second);

        using var bad = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "weather", thresholdsPercent = new[] { 0 } });
        using var typo = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "budget", thresholds = new[] { 90 } });
        using var never = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "burn_rate", withinHours = 0 });
        using var good = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "budget", thresholdsPercent = new[] { 90 } });
        var seen = await second.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules/strict");
        var all = await second.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules");
        using var off = await first.PutAsJsonAsync("/admin/v1/alerts/rules/strict", new { kind = "budget", thresholdsPercent = new[] { 90 }, enabled = false });
        var seenOff = await second.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules/strict");
        using var deleted = await second.DeleteAsync("/admin/v1/alerts/rules/strict");
        using var gone = await first.GetAsync("/admin/v1/alerts/rules/strict");
        var webhooks = await first.GetStringAsync("/admin/v1/alerts/webhooks");

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("kind must be one of: budget", (await Json.ReadErrorAsync(bad)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("thresholds", (await Json.ReadErrorAsync(typo)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, never.StatusCode);
        Assert.Contains("withinHours must be between 1 and 8760", (await Json.ReadErrorAsync(never)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal([90], seen.GetProperty("thresholdsPercent").EnumerateArray().Select(t => t.GetInt32()));
        // The rule as written, not values derived from it.
        Assert.Equal(["name", "kind", "enabled", "thresholdsPercent"], seen.EnumerateObject().Select(p => p.Name));
        Assert.True(seen.GetProperty("enabled").GetBoolean()); // a rule is on unless the body turns it off
        Assert.Equal(["breaker", "budget", "burn", "errors", "latency"], all.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("name").GetString()).Where(n => n != "strict"));
        // The list shows each rule as reading it alone does.
        Assert.Equal(seen.GetRawText(), all.GetProperty("data").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "strict").GetRawText());
        Assert.False(seenOff.GetProperty("enabled").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal("""{"name":"strict","deleted":true}""", await deleted.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("alert_rule_not_found", (await Json.ReadErrorAsync(gone)).GetProperty("code").GetString());
        var hooks = JsonDocument.Parse(webhooks).RootElement;
        Assert.Equal("list", hooks.GetProperty("object").GetString());
        Assert.Contains(hooks.GetProperty("data").EnumerateArray(), h => h.GetProperty("name").GetString() == "ops-slack" && h.GetProperty("format").GetString() == "slack");
        Assert.DoesNotContain(fixture.Receiver.BaseAddress.Authority, webhooks);
    }
}

public sealed class AlertTests(AlertFixture fixture) : AlertSuite<AlertFixture>(fixture);

public sealed class AlertOnClusterTests(ClusterAlertFixture fixture) : AlertSuite<ClusterAlertFixture>(fixture);

public static class AlertFixtureStatus
{
    public const string Firing = "firing";
    public const string Resolved = "resolved";
}

/// <summary>Redis, a priced simulator group behind a Router, a webhook receiver, and two Api replicas evaluating every 0.2 s.</summary>
public class AlertFixture : IAsyncLifetime
{
    private RedisUnderTest _redis = null!;

    /// <summary>Whether the Api and the Router keep their state on a Redis Cluster rather than one node.</summary>
    protected virtual bool OnCluster => false;

    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Healthy { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Faulty { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Slow { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public WebhookReceiver Receiver { get; private set; } = null!;
    public KestrelApp<ApiOptions> First { get; private set; } = null!;
    public KestrelApp<ApiOptions> Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisUnderTest.StartAsync(OnCluster);
        Receiver = await WebhookReceiver.StartAsync();
        Simulator = PlatformFixture.StartSimulator();
        Healthy = PlatformFixture.StartSimulator();
        Faulty = PlatformFixture.StartSimulator();
        Slow = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TimeToFirstTokenMs"] = "300" });
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", _redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "Router:StatsFlushSeconds", "0.5" },
            { "Router:CircuitBreaker:BreakDurationSeconds", "0.5" },
            { "Router:Retry:BaseDelayMs", "10" },
            { "pair", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("healthy-sim", Healthy.BaseAddress), RouterSettings.Deployment("faulty-sim", Faulty.BaseAddress)] } },
            { "slow", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("slow-sim", Slow.BaseAddress)] } },
            { "priced", new ModelGroupOptions { Deployments = [RouterSettings.Priced(RouterSettings.Deployment("priced-sim", Simulator.BaseAddress), 1000, 1000)] } },
        }).Start();
        First = StartApi();
        Second = StartApi();
    }

    private KestrelApp<ApiOptions> StartApi() => new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(_redis.ConnectionString, Router.BaseAddress, Receiver.AlertSettings(new Dictionary<string, string?>
    {
        ["Alerts:Rules:0:Name"] = "budget",
        ["Alerts:Rules:0:Kind"] = "budget",
        ["Alerts:Rules:0:ThresholdsPercent:0"] = "50",
        ["Alerts:Rules:0:ThresholdsPercent:1"] = "80",
        ["Alerts:Rules:0:ThresholdsPercent:2"] = "100",
        ["Alerts:Rules:1:Name"] = "errors",
        ["Alerts:Rules:1:Kind"] = "error_rate",
        ["Alerts:Rules:1:ThresholdPercent"] = "50",
        ["Alerts:Rules:1:WindowSeconds"] = "10",
        ["Alerts:Rules:1:MinRequests"] = "5",
        ["Alerts:Rules:2:Name"] = "latency",
        ["Alerts:Rules:2:Kind"] = "latency_p99",
        ["Alerts:Rules:2:Scope"] = "group",
        ["Alerts:Rules:2:ThresholdMs"] = "250",
        ["Alerts:Rules:2:WindowSeconds"] = "60",
        ["Alerts:Rules:2:MinRequests"] = "3",
        ["Alerts:Rules:3:Name"] = "breaker",
        ["Alerts:Rules:3:Kind"] = "breaker_open",
        ["Alerts:Rules:3:ForSeconds"] = "1",
        ["Alerts:Rules:4:Name"] = "burn",
        ["Alerts:Rules:4:Kind"] = "burn_rate",
        ["Alerts:Rules:4:WithinHours"] = "24",
    }))).Start();

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

    /// <summary>Chat completions to the <c>pair</c> group (a healthy and a faulty simulator) every 50 ms until cancelled.</summary>
    public async Task SendToPairAsync(CancellationToken cancellationToken)
    {
        // A key of its own: once any key exists the master key is for the admin API only.
        var tenantId = await ApiCalls.CreateTenantAsync(First, new { name = $"alerts-traffic-{Guid.NewGuid():N}" });
        var (_, key) = await ApiCalls.CreateKeyAsync(First, tenantId, new { name = "traffic" });
        using var client = ApiCalls.Client(First, key);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "pair"), cancellationToken);
                await Task.Delay(50, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null, string path = "json") =>
        Receiver.WaitForAsync(match, timeout, path);

    /// <summary>The notifications the webhook at <paramref name="path"/> received for the key's threshold in the given status.</summary>
    public List<JsonElement> Notifications(string path, string keyId, string threshold, string status) =>
        Receiver.All(b => IsAbout(b, keyId, threshold, status), path);

    public Task<JsonElement> WaitForAsync(string path, string keyId, string threshold, string status) =>
        WaitForAsync(b => IsAbout(b, keyId, threshold, status), path: path);

    private static bool IsAbout(JsonElement notification, string keyId, string threshold, string status) =>
        notification.GetProperty("status").GetString() == status
        && notification.GetProperty("labels").TryGetProperty("keyId", out var id) && id.GetString() == keyId
        && notification.GetProperty("labels").TryGetProperty("thresholdPercent", out var percent) && percent.GetString() == threshold;

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await Healthy.DisposeAsync();
        await Faulty.DisposeAsync();
        await Slow.DisposeAsync();
        await Receiver.DisposeAsync();
        await _redis.DisposeAsync();
    }
}

/// <summary>The same on a Redis Cluster of six nodes (<see cref="TestRedisCluster"/>).</summary>
public sealed class ClusterAlertFixture : AlertFixture
{
    protected override bool OnCluster => true;
}

