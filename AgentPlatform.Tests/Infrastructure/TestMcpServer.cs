using System.ComponentModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Server;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A real MCP server (<c>ModelContextProtocol.AspNetCore</c>, streamable HTTP and SSE) on a free port,
/// with a few tools to call from agents: one that works, one that fails, one that is slow.
/// </summary>
public sealed class TestMcpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestMcpServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>HTTP requests that reached the server, whatever they asked.</summary>
    public int Requests => Volatile.Read(ref _requests);

    private int _requests;

    /// <summary>Where the MCP endpoint is (streamable HTTP at it, SSE at <c>/sse</c> under it).</summary>
    public Uri Endpoint => new(BaseAddress, "mcp");

    public static async Task<TestMcpServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // The older SSE transport too (off by default, marked obsolete for servers facing untrusted clients):
        // agents must still reach servers that speak only it, and this one serves the tests alone.
#pragma warning disable MCP9004
        builder.Services.AddMcpServer().WithHttpTransport(options =>
        {
            options.SessionMode = ModelContextProtocol.AspNetCore.HttpServerSessionMode.Stateful; // SSE keeps its session between GET and POST
            options.EnableLegacySse = true;
        }).WithTools<Tools>();
#pragma warning restore MCP9004
        var app = builder.Build();
        TestMcpServer? server = null;
        app.Use((context, next) =>
        {
            Interlocked.Increment(ref server!._requests);
            return next(context);
        });
        app.MapMcp("/mcp");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return server = new TestMcpServer(app, new Uri(address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [McpServerToolType]
    public sealed class Tools
    {
        [McpServerTool(Name = "add"), Description("Adds two whole numbers.")]
        public static int Add([Description("The first number")] int a, [Description("The second number")] int b) => a + b;

        [McpServerTool(Name = "lookup_order"), Description("Looks an order up by its number.")]
        public static string LookupOrder(string orderNumber) => $"Order {orderNumber}: shipped on 2026-11-20.";

        [McpServerTool(Name = "fail"), Description("Always fails.")]
        public static string Fail() => throw new InvalidOperationException("the warehouse system is down");

        [McpServerTool(Name = "slow"), Description("Takes ten seconds.")]
        public static async Task<string> Slow(CancellationToken cancellationToken)
        {
            await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
            return "finally";
        }
    }
}
