using System.Net;
using System.Net.Http.Json;
using AgentPlatform.Api;
using AgentPlatform.Api.Agents;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Agents;

/// <summary>
/// An agent definition cannot make the Api call into its own network: addresses refused when the
/// definition is saved, names when they resolve, and no failure shows the server's URL. A Redis and an
/// Api of its own, with no MCP host listed (the platform's default).
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class McpHostPolicyTests(PlatformFixture platform) : IAsyncLifetime
{
    private TestRedis _redis = null!;
    private TestMcpServer _tools = null!;
    private KestrelApp<ApiOptions> _api = null!;
    private readonly CapturingLoggerProvider _logs = new();

    public async Task InitializeAsync()
    {
        _redis = await TestRedis.StartAsync();
        _tools = await TestMcpServer.StartAsync();
        _api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(_redis, platform.Router.BaseAddress), services =>
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(_logs)).Start();
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _tools.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("2606:4700::1111", true)]
    public void Only_addresses_on_the_public_internet_are_public(string address, bool expected) =>
        Assert.Equal(expected, McpHostPolicy.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://10.0.0.5/mcp")]
    [InlineData("http://[::1]:8080/mcp")]
    [InlineData("http://127.0.0.1:6379/")]
    public async Task A_definition_naming_an_inside_address_is_refused(string url)
    {
        using var admin = ApiCalls.Admin(_api);

        using var response = await admin.PutAsJsonAsync("/admin/v1/agents/reach-inside", Definition(url));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("tools[0].mcpServerUrl may not be used", (await Json.ReadErrorAsync(response)).GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("router")]
    public async Task A_name_that_resolves_inside_or_not_at_all_fails_the_run_without_showing_the_url(string host)
    {
        using var admin = ApiCalls.Admin(_api);
        var url = $"http://{host}:{_tools.Endpoint.Port}/mcp?token=SECRET-TOKEN";
        using (var defined = await admin.PutAsJsonAsync("/admin/v1/agents/sneaky", Definition(url)))
        {
            Assert.True(defined.IsSuccessStatusCode, await defined.Content.ReadAsStringAsync());
        }

        using var run = await admin.PostAsync("/v1/agents/sneaky/runs", Json.Body("""{"input":"Please lookup_order 1"}"""));

        var body = await run.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, run.StatusCode);
        Assert.Contains($"tools[0] on {host}", body);
        Assert.DoesNotContain("SECRET", body);
        Assert.DoesNotContain("/mcp", body);
        Assert.DoesNotContain(_logs.Logs, log => log.Message.Contains("SECRET", StringComparison.Ordinal));
        Assert.Equal(0, _tools.Requests);
    }

    private static object Definition(string url) => new
    {
        instructions = "Help.",
        model = "default",
        tools = new[] { new { mcpServerUrl = url, allowedTools = new[] { "lookup_order" } } },
    };
}
