using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Tests.Infrastructure;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Redis;

/// <summary>
/// Alerting's state and the agent definitions written under the names of before the hash tags, after an
/// upgrade. Written by this version through the admin API and renamed to the old names, so the content is
/// what the stores write.
/// </summary>
public sealed class KeyNameMigrationTests
{
    [Fact]
    public async Task Alert_rules_and_agent_definitions_with_every_version_are_moved_at_start_and_keep_working()
    {
        await using var redis = await TestRedis.StartAsync();
        var settings = PlatformFixture.ApiSettings(redis, new Uri("http://127.0.0.1:9")); // the admin API alone: no Router is called
        await using (var before = new KestrelApp<ApiOptions>(settings).Start())
        {
            using var admin = ApiCalls.Admin(before);
            (await admin.PutAsJsonAsync("/admin/v1/alerts/rules/custom", new { kind = "budget", thresholdsPercent = new[] { 90 } })).EnsureSuccessStatusCode();
            (await admin.PutAsJsonAsync("/admin/v1/agents/helper", new { instructions = "Help.", model = "default" })).EnsureSuccessStatusCode();
            (await admin.PutAsJsonAsync("/admin/v1/agents/helper", new { instructions = "Help, briefly.", model = "default" })).EnsureSuccessStatusCode();
            (await admin.PutAsJsonAsync("/admin/v1/agents/gone", new { instructions = "Go.", model = "default" })).EnsureSuccessStatusCode();
            (await admin.DeleteAsync("/admin/v1/agents/gone")).EnsureSuccessStatusCode();
        }
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var database = connection.GetDatabase();
        var server = connection.GetServer(connection.GetEndPoints().Single());
        foreach (var key in server.Keys(pattern: "agentplatform:{alerts}:*").Concat(server.Keys(pattern: "agentplatform:{agents}:*")).ToList())
        {
            var name = (string)key!;
            await database.KeyRenameAsync(key, name == "agentplatform:{agents}:current" ? "agentplatform:agents"
                : name.Replace("{alerts}", "alerts", StringComparison.Ordinal).Replace("{agents}", "agents", StringComparison.Ordinal));
        }

        await using var upgraded = new KestrelApp<ApiOptions>(settings).Start();
        using var client = ApiCalls.Admin(upgraded);
        var rule = await client.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/rules/custom");
        var helper = await client.GetFromJsonAsync<JsonElement>("/admin/v1/agents/helper/versions");
        var gone = await client.GetFromJsonAsync<JsonElement>("/admin/v1/agents/gone/versions");
        using var deleted = await client.GetAsync("/admin/v1/agents/gone");
        using var changed = await client.PutAsJsonAsync("/admin/v1/agents/helper", new { instructions = "Help, very briefly.", model = "default" });

        Assert.Equal(90, rule.GetProperty("thresholdsPercent")[0].GetInt32());
        Assert.Equal(["Help, briefly.", "Help."], helper.GetProperty("data").EnumerateArray().Select(v => v.GetProperty("instructions").GetString()));
        Assert.Equal(1, gone.GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, deleted.StatusCode);
        Assert.Equal(3, (await changed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32()); // numbered after the moved ones
        Assert.Empty(server.Keys(pattern: "agentplatform:alerts:*"));
        Assert.DoesNotContain(server.Keys(pattern: "agentplatform:agents*"), k => !((string)k!).StartsWith("agentplatform:agents:runs:", StringComparison.Ordinal));
    }
}
