using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Agents;

/// <summary>Agent definitions through the admin API: every change a new version, every version kept, bad input named.</summary>
public sealed class AgentsAdminApiTests(TenancyFixture fixture) : IClassFixture<TenancyFixture>
{
    [Fact]
    public async Task An_agent_is_created_changed_and_deleted_and_every_version_stays_readable()
    {
        using var first = fixture.Admin(fixture.First);
        using var second = fixture.Admin(fixture.Second);
        var tenantId = await fixture.CreateTenantAsync(new { name = "Agent users" });
        var name = $"support-{Guid.NewGuid():N}"[..16];

        using var created = await first.PostAsJsonAsync("/admin/v1/agents", new
        {
            name,
            description = "Answers support questions",
            instructions = "You help customers.",
            model = "default",
            tools = new[] { new { mcpServerUrl = "http://tools.internal/mcp", allowedTools = new[] { "lookup_order" } } },
            temperature = 0.2,
            maxSteps = 6,
            maxCostUsd = 0.5,
            tenantIds = new[] { tenantId },
        });
        using var again = await first.PostAsJsonAsync("/admin/v1/agents", new { name, instructions = "x", model = "default" });
        using var changed = await second.PutAsJsonAsync($"/admin/v1/agents/{name}", new { instructions = "You help customers, briefly.", model = "default" });
        var current = await first.GetFromJsonAsync<JsonElement>($"/admin/v1/agents/{name}");
        var versions = await first.GetFromJsonAsync<JsonElement>($"/admin/v1/agents/{name}/versions");
        var firstVersion = await second.GetFromJsonAsync<JsonElement>($"/admin/v1/agents/{name}/versions/1");
        using var noSuchVersion = await second.GetAsync($"/admin/v1/agents/{name}/versions/9");
        var all = await second.GetFromJsonAsync<JsonElement>("/admin/v1/agents");
        using var deleted = await first.DeleteAsync($"/admin/v1/agents/{name}");
        using var gone = await second.GetAsync($"/admin/v1/agents/{name}");
        var afterDelete = await second.GetFromJsonAsync<JsonElement>($"/admin/v1/agents/{name}/versions");
        using var recreated = await first.PutAsJsonAsync($"/admin/v1/agents/{name}", new { instructions = "Back again.", model = "default" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var v1 = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, v1.GetProperty("version").GetInt32());
        Assert.Equal(6, v1.GetProperty("maxSteps").GetInt32());
        Assert.Equal("lookup_order", v1.GetProperty("tools")[0].GetProperty("allowedTools")[0].GetString());
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("agent_exists", (await Json.ReadErrorAsync(again)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(2, current.GetProperty("version").GetInt32());
        Assert.Equal("You help customers, briefly.", current.GetProperty("instructions").GetString());
        Assert.Equal(10, current.GetProperty("maxSteps").GetInt32()); // a replacement: what it leaves out takes the default
        Assert.Equal([2, 1], versions.GetProperty("data").EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        Assert.Equal("You help customers.", firstVersion.GetProperty("instructions").GetString());
        Assert.Equal(HttpStatusCode.NotFound, noSuchVersion.StatusCode);
        Assert.Contains(all.GetProperty("data").EnumerateArray(), a => a.GetProperty("name").GetString() == name);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(2, afterDelete.GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.Created, recreated.StatusCode);
        Assert.Equal(3, (await recreated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task A_definition_with_mistakes_is_refused_with_each_one_named()
    {
        using var admin = fixture.Admin();

        using var bad = await admin.PutAsJsonAsync("/admin/v1/agents/broken", new
        {
            model = "",
            tools = new object[] { new { mcpServerUrl = "ftp://tools", allowedTools = Array.Empty<string>() } },
            temperature = 3,
            maxSteps = 0,
            maxCostUsd = -1,
            tenantIds = new[] { "ten_nobody" },
        });
        using var typo = await admin.PutAsJsonAsync("/admin/v1/agents/broken", new { instructions = "x", model = "default", maxStep = 3 });
        using var badName = await admin.PutAsJsonAsync("/admin/v1/agents/has%20space", new { instructions = "x", model = "default" });
        using var missing = await admin.GetAsync("/admin/v1/agents/broken");
        using var anonymousClient = fixture.First.CreateHttpClient();
        using var anonymous = await anonymousClient.GetAsync("/admin/v1/agents");

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var message = (await Json.ReadErrorAsync(bad)).GetProperty("message").GetString()!;
        foreach (var expected in new[] { "instructions are needed", "model must name a model group", "temperature must be between 0 and 2",
                     "maxSteps must be between 1 and 100", "maxCostUsd must be 0 or more", "tools[0].mcpServerUrl", "tools[0].allowedTools",
                     "no tenant has the id 'ten_nobody'" })
        {
            Assert.Contains(expected, message);
        }
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("maxStep", (await Json.ReadErrorAsync(typo)).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task A_key_lists_the_agents_its_tenant_and_model_groups_allow_without_their_instructions()
    {
        using var admin = fixture.Admin();
        var allowed = await fixture.CreateTenantAsync(new { name = "Allowed tenant" });
        var other = await fixture.CreateTenantAsync(new { name = "Other tenant" });
        var (_, allowedKey) = await fixture.CreateKeyAsync(allowed, new { name = "allowed" });
        var (_, otherKey) = await fixture.CreateKeyAsync(other, new { name = "other" });
        var (_, pricedOnlyKey) = await fixture.CreateKeyAsync(allowed, new { name = "priced only", models = new[] { "priced" } });
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (restricted, open) = ($"restricted-{suffix}", $"open-{suffix}");
        using (await admin.PutAsJsonAsync($"/admin/v1/agents/{restricted}", new
        {
            instructions = "Secret instructions.", model = "default", tenantIds = new[] { allowed },
            tools = new[] { new { mcpServerUrl = "http://internal-tools/mcp", allowedTools = new[] { "search" } } },
        })) { }
        using (await admin.PutAsJsonAsync($"/admin/v1/agents/{open}", new { instructions = "Open.", model = "default" })) { }

        var forAllowed = await ListAsync(allowedKey);
        var forOther = await ListAsync(otherKey);
        var forPricedOnly = await ListAsync(pricedOnlyKey);

        Assert.Contains(restricted, forAllowed.Select(a => a.GetProperty("id").GetString()));
        Assert.Contains(open, forAllowed.Select(a => a.GetProperty("id").GetString()));
        Assert.DoesNotContain(restricted, forOther.Select(a => a.GetProperty("id").GetString()));
        Assert.Contains(open, forOther.Select(a => a.GetProperty("id").GetString()));
        Assert.DoesNotContain(forPricedOnly, a => a.GetProperty("id").GetString() is { } id && (id == restricted || id == open)); // both run on "default"
        var shown = forAllowed.Single(a => a.GetProperty("id").GetString() == restricted);
        Assert.Equal(["search"], shown.GetProperty("tools").EnumerateArray().Select(t => t.GetString()));
        Assert.False(shown.TryGetProperty("instructions", out _));
        Assert.DoesNotContain("internal-tools", shown.ToString());
    }

    private async Task<List<JsonElement>> ListAsync(string key)
    {
        using var client = TenancyFixture.Client(fixture.First, key);
        return (await client.GetFromJsonAsync<JsonElement>("/v1/agents")).GetProperty("data").EnumerateArray().ToList();
    }

    [Fact]
    public async Task Concurrent_changes_through_two_replicas_each_get_their_own_version()
    {
        using var first = fixture.Admin(fixture.First);
        using var second = fixture.Admin(fixture.Second);
        var name = $"busy-{Guid.NewGuid():N}"[..13];

        var saves = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? first : second).PutAsJsonAsync($"/admin/v1/agents/{name}", new { instructions = $"Change {i}", model = "default" });
            Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32();
        }));
        var versions = await first.GetFromJsonAsync<JsonElement>($"/admin/v1/agents/{name}/versions");

        Assert.Equal(Enumerable.Range(1, 20), saves.Order());
        Assert.Equal(Enumerable.Range(1, 20).Reverse(), versions.GetProperty("data").EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
    }
}
