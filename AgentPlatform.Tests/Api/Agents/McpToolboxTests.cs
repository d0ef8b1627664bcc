using AgentPlatform.Api.Agents;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentPlatform.Tests.Api.Agents;

/// <summary>An agent's MCP tools against a real MCP server: only the allowed ones, errors and timeouts as results.</summary>
public sealed class McpToolboxTests : IAsyncLifetime
{
    private TestMcpServer _server = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync() => _server = await TestMcpServer.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Only_the_allowed_tools_are_offered_and_a_call_returns_the_tools_answer()
    {
        await using var toolbox = await ConnectAsync(new AgentTool { McpServerUrl = _server.Endpoint.ToString(), AllowedTools = ["add", "lookup_order"] });

        Assert.Equal(["add", "lookup_order"], toolbox.Tools.Keys.Order());
        Assert.Equal("Adds two whole numbers.", toolbox.Tools["add"].Description);
        Assert.True(toolbox.Tools["add"].JsonSchema.GetProperty("properties").TryGetProperty("a", out _));
        var sum = await toolbox.Tools["add"].CallAsync(new Dictionary<string, object?> { ["a"] = 2, ["b"] = 3 }, CancellationToken.None);
        var order = await toolbox.Tools["lookup_order"].CallAsync(new Dictionary<string, object?> { ["orderNumber"] = "A-17" }, CancellationToken.None);

        Assert.Equal(new ToolResult("5", IsError: false), sum);
        Assert.Equal(new ToolResult("Order A-17: shipped on 2026-11-20.", IsError: false), order);
    }

    [Fact]
    public async Task A_server_that_speaks_only_the_older_SSE_transport_is_used_the_same_way()
    {
        await using var toolbox = await ConnectAsync(new AgentTool { McpServerUrl = new Uri(_server.Endpoint + "/sse").ToString(), AllowedTools = ["add"] });

        Assert.Equal(new ToolResult("42", IsError: false),
            await toolbox.Tools["add"].CallAsync(new Dictionary<string, object?> { ["a"] = 40, ["b"] = 2 }, CancellationToken.None));
    }

    [Fact]
    public async Task A_failing_or_slow_tool_gives_an_error_result_instead_of_throwing()
    {
        await using var toolbox = await ConnectAsync(new AgentTool { McpServerUrl = _server.Endpoint.ToString(), AllowedTools = ["fail", "slow"], TimeoutSeconds = 1 });

        var failed = await toolbox.Tools["fail"].CallAsync(new Dictionary<string, object?>(), CancellationToken.None);
        var started = DateTime.UtcNow;
        var slow = await toolbox.Tools["slow"].CallAsync(new Dictionary<string, object?>(), CancellationToken.None);

        Assert.True(failed.IsError);
        Assert.Contains("fail", failed.Text);
        Assert.True(slow.IsError);
        Assert.Equal("The tool 'slow' did not answer within 1 s.", slow.Text);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "the timeout, not the tool, ended the call");
    }

    [Fact]
    public async Task A_tool_the_server_lacks_or_a_server_that_is_not_there_is_named_in_the_error()
    {
        var missing = await Assert.ThrowsAsync<McpToolboxException>(() =>
            ConnectAsync(new AgentTool { McpServerUrl = _server.Endpoint.ToString(), AllowedTools = ["add", "delete_everything"] }));
        var unreachable = await Assert.ThrowsAsync<McpToolboxException>(() =>
            ConnectAsync(new AgentTool { McpServerUrl = "http://127.0.0.1:1/mcp", AllowedTools = ["add"] }));

        Assert.Contains("has no tool 'delete_everything'", missing.Message);
        Assert.Contains("add", missing.Message);
        Assert.StartsWith("The MCP server tools[0] on 127.0.0.1 could not be reached: the connection failed", unreachable.Message);
        Assert.DoesNotContain("/mcp", unreachable.Message); // a URL may hold a credential
    }

    private Task<McpToolbox> ConnectAsync(AgentTool tool) =>
        McpToolbox.ConnectAsync(new AgentDefinition { Name = "test", Instructions = "x", Model = "default", Tools = [tool] }, _http, NullLoggerFactory.Instance, CancellationToken.None);
}
