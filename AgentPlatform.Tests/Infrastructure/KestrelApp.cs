using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// One of the platform's services running for real on Kestrel at a loopback port, with its own
/// configuration, so services call each other over real HTTP as they do in production.
/// <typeparamref name="TMarker"/> is any type of the service's assembly.
/// </summary>
public sealed class KestrelApp<TMarker> : WebApplicationFactory<TMarker>, IRunningService where TMarker : class
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;
    private readonly IConfigurationSource? _extraConfiguration;

    /// <param name="extraConfiguration">A source added last (it wins), e.g. one the test edits while the service runs.</param>
    public KestrelApp(
        IReadOnlyDictionary<string, string?> settings,
        Action<IServiceCollection>? configureServices = null,
        IConfigurationSource? extraConfiguration = null)
    {
        _settings = settings;
        _configureServices = configureServices;
        _extraConfiguration = extraConfiguration;
        // No port here: UseKestrel(port) rewrites the server addresses while the host may already be
        // starting, which failed now and then; the port comes from the "urls" setting below instead.
        UseKestrel();
    }

    /// <summary>The service's base address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public KestrelApp<TMarker> Start()
    {
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return this;
    }

    /// <summary>A client of the service; of a Router, one that presents the internal key as the Api does.</summary>
    public HttpClient CreateHttpClient() => TestKeys.Client(BaseAddress, isRouter: typeof(TMarker).Assembly == typeof(AgentPlatform.Router.Configuration.RouterOptions).Assembly);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("urls", "http://127.0.0.1:0");
        foreach (var (key, value) in TestKeys.Settings)
        {
            builder.UseSetting(key, value);
        }
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
        if (_extraConfiguration is not null)
        {
            builder.ConfigureAppConfiguration(configuration => configuration.Add(_extraConfiguration));
        }
    }
}

/// <summary>A service the tests started and call over HTTP, in the test process or as its own.</summary>
public interface IRunningService
{
    Uri BaseAddress { get; }

    HttpClient CreateHttpClient();
}
