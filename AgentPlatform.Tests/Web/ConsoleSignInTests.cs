using AgentPlatform.Web.SignIn;

namespace AgentPlatform.Tests.Web;

public sealed class ConsoleSignInTests
{
    [Theory]
    [InlineData("the-key", "the-key", true)]
    [InlineData("the-key ", "the-key", false)]
    [InlineData("THE-KEY", "the-key", false)]
    [InlineData("", "the-key", false)]
    [InlineData(null, "the-key", false)]
    [InlineData("", "", false)] // a console without a credential lets nobody in
    public void Only_the_exact_credential_signs_in(string? given, string expected, bool signsIn) =>
        Assert.Equal(signsIn, ConsoleSignIn.Matches(given, expected));

    [Theory]
    [InlineData("/playground", "/playground")]
    [InlineData("/usage?keyId=key_1", "/usage?keyId=key_1")]
    [InlineData("https://elsewhere.example/", "/")]
    [InlineData("//elsewhere.example/", "/")]
    [InlineData("/\\elsewhere.example", "/")]
    [InlineData("playground", "/")]
    [InlineData(null, "/")]
    public void After_sign_in_the_browser_goes_back_only_to_a_page_of_the_console(string? returnUrl, string expected) =>
        Assert.Equal(expected, ConsoleSignIn.LocalOrHome(returnUrl));
}
